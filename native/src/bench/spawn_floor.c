// lxnsd-spawn-floor: the physical floor of Run, for the bench (npm run bench).
// What a Run of /usr/bin/true joined to a target's net and uts namespaces
// costs with nothing around it: no Node.js, no gRPC, no addon. A loop that
// forks a child, which joins the target's net and uts namespaces (setns on
// fds opened once) and execs /usr/bin/true, and waits for it.
//
//   lxnsd-spawn-floor PID ROUNDS CONCURRENCY
//
// CONCURRENCY 1: ROUNDS spawns in sequence, prints {"samplesNs":[...]} (each
// spawn's time, fork to reaped). CONCURRENCY N > 1: N workers each make
// ROUNDS spawns at once, prints {"calls":N*ROUNDS,"seconds":S} (wall time).
// Exits 1 with a message on stderr if any spawn fails.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int OpenNs(const char* pid, const char* type) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, type);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror(path);
    exit(1);
  }
  return fd;
}

// One spawn: 0 when true ran and exited 0.
static int SpawnTrue(int net, int uts) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    if (setns(net, CLONE_NEWNET) != 0 || setns(uts, CLONE_NEWUTS) != 0) _exit(126);
    char* const argv[] = {(char*)"true", NULL};
    char* const envp[] = {NULL};
    execve("/usr/bin/true", argv, envp);
    _exit(127);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: lxnsd-spawn-floor PID ROUNDS CONCURRENCY\n");
    return 2;
  }
  int net = OpenNs(argv[1], "net");
  int uts = OpenNs(argv[1], "uts");
  long rounds = strtol(argv[2], NULL, 10);
  long concurrency = strtol(argv[3], NULL, 10);
  if (rounds < 1 || concurrency < 1) {
    fprintf(stderr, "lxnsd-spawn-floor: ROUNDS and CONCURRENCY must be at least 1\n");
    return 2;
  }
  if (concurrency == 1) {
    printf("{\"samplesNs\":[");
    for (long i = 0; i < rounds; i++) {
      long long start = NowNs();
      if (SpawnTrue(net, uts) != 0) {
        fprintf(stderr, "lxnsd-spawn-floor: spawn %ld failed\n", i);
        return 1;
      }
      printf("%s%lld", i ? "," : "", NowNs() - start);
    }
    printf("]}\n");
    return 0;
  }
  long long start = NowNs();
  for (long w = 0; w < concurrency; w++) {
    pid_t worker = fork();
    if (worker < 0) {
      perror("fork");
      return 1;
    }
    if (worker == 0) {
      for (long i = 0; i < rounds; i++) {
        if (SpawnTrue(net, uts) != 0) _exit(1);
      }
      _exit(0);
    }
  }
  int failed = 0;
  for (long w = 0; w < concurrency; w++) {
    int status = 0;
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  double seconds = (double)(NowNs() - start) / 1e9;
  if (failed) {
    fprintf(stderr, "lxnsd-spawn-floor: a worker's spawn failed\n");
    return 1;
  }
  printf("{\"calls\":%ld,\"seconds\":%.9f}\n", rounds * concurrency, seconds);
  return 0;
}
