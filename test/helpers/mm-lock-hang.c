// A process whose mmap lock stays taken until its FUSE server dies: the
// "ps hangs" trap, built by test/helpers/mm-lock-hang.ts.
//
// In a mount namespace of its own it mounts FUSE on argv[1] and forks the
// server, which answers everything but READ. Then:
//   thread A reads /proc/self/mem over a mapping of the FUSE file: the fault
//            (get_user_pages, no retry) waits for the READ while it holds the
//            mmap lock for reading;
//   thread B mmaps: a writer, queued behind A.
// From then on every reader of the lock waits: /proc/PID/cmdline, environ,
// ps. It prints "<server pid>\n" once B waits, then reaps the server. The
// server exits after argv[2] seconds (a SIGKILL sooner): the connection
// aborts, A's read fails, and everything goes on (the main process then
// sleeps until killed).
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* dir;
static char file_path[4096];
static void* mapping;
static int go_pipe[2];
static volatile pid_t writer_tid;

static void die(const char* what) {
  perror(what);
  _exit(1);
}

static void reply(int fuse, uint64_t unique, int error, const void* body, size_t len) {
  char buf[4096];
  struct fuse_out_header* out = (struct fuse_out_header*)buf;
  out->unique = unique;
  out->error = error;
  out->len = sizeof(*out) + (error == 0 ? len : 0);
  if (error == 0 && len > 0) memcpy(buf + sizeof(*out), body, len);
  if (write(fuse, buf, out->len) < 0) _exit(0);
}

static void fill_attr(struct fuse_attr* attr, uint64_t ino) {
  memset(attr, 0, sizeof(*attr));
  attr->ino = ino;
  attr->mode = ino == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0644);
  attr->nlink = 1;
  attr->size = ino == FUSE_ROOT_ID ? 0 : 4096;
  attr->blocks = 8;
  attr->blksize = 4096;
}

// The server: one file "file" (inode 2, 4 KiB) in the root; READ is never answered.
static void serve(int fuse, int told) {
  static char buf[FUSE_MIN_READ_BUFFER + 65536];
  for (;;) {
    ssize_t n = read(fuse, buf, sizeof(buf));
    if (n < 0) _exit(0);
    struct fuse_in_header* in = (struct fuse_in_header*)buf;
    void* arg = buf + sizeof(*in);
    switch (in->opcode) {
      case FUSE_INIT: {
        struct fuse_init_in* init = arg;
        struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = init->max_readahead, .max_write = 4096};
        reply(fuse, in->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_LOOKUP: {
        if (strcmp((const char*)arg, "file") != 0) {
          reply(fuse, in->unique, -2 /* ENOENT */, NULL, 0);
          break;
        }
        struct fuse_entry_out out = {.nodeid = 2, .generation = 1, .entry_valid = 3600, .attr_valid = 3600};
        fill_attr(&out.attr, 2);
        reply(fuse, in->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_GETATTR: {
        struct fuse_attr_out out = {.attr_valid = 3600};
        fill_attr(&out.attr, in->nodeid);
        reply(fuse, in->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_OPEN:
      case FUSE_OPENDIR: {
        struct fuse_open_out out = {.fh = 1};
        reply(fuse, in->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_READ:
        if (write(told, "r", 1) < 0) _exit(0);
        break;  // never answered
      case FUSE_FORGET:
      case FUSE_BATCH_FORGET:
        break;  // no reply expected
      default:
        reply(fuse, in->unique, -38 /* ENOSYS */, NULL, 0);
    }
  }
}

// Thread A: faults the FUSE page in through get_user_pages, holding the mmap lock.
static void* fault_under_lock(void* unused) {
  (void)unused;
  int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (mem < 0) die("open /proc/self/mem");
  char byte;
  (void)pread(mem, &byte, 1, (off_t)(uintptr_t)mapping);
  return NULL;
}

// Thread B: once told, asks for the mmap lock as a writer.
static void* queue_writer(void* unused) {
  (void)unused;
  writer_tid = (pid_t)syscall(SYS_gettid);
  char c;
  if (read(go_pipe[0], &c, 1) != 1) die("read go");
  (void)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return NULL;
}

// Whether thread tid sleeps uninterruptibly (D): B waiting for the lock.
static int waits(pid_t tid) {
  char path[64], stat[512];
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, stat, sizeof(stat) - 1);
  close(fd);
  if (n <= 0) return 0;
  stat[n] = '\0';
  char* close_paren = strrchr(stat, ')');
  return close_paren != NULL && close_paren[2] == 'D';
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR SECONDS\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  unsigned seconds = (unsigned)atoi(argv[2]);
  snprintf(file_path, sizeof(file_path), "%s/file", dir);
  if (unshare(CLONE_NEWNS) < 0) die("unshare");
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount private");
  int fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fuse < 0) die("open /dev/fuse");
  char opts[128];
  snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
  if (mount("lxnsd-mmhang", dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) die("mount fuse");
  int told[2];
  if (pipe2(told, O_CLOEXEC) < 0 || pipe2(go_pipe, O_CLOEXEC) < 0) die("pipe");
  pid_t server = fork();
  if (server < 0) die("fork");
  if (server == 0) {
    alarm(seconds);  // SIGALRM ends it: the connection aborts
    close(told[0]);
    serve(fuse, told[1]);
    _exit(0);
  }
  close(fuse);  // only the server holds /dev/fuse: its end aborts the connection
  close(told[1]);

  int fd = open(file_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open file");
  mapping = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED) die("mmap file");
  // Both threads exist (their stacks mapped) before the lock is taken.
  pthread_t a, b;
  if (pthread_create(&b, NULL, queue_writer, NULL) != 0) die("pthread_create");
  while (writer_tid == 0) usleep(1000);
  if (pthread_create(&a, NULL, fault_under_lock, NULL) != 0) die("pthread_create");
  char c;
  if (read(told[0], &c, 1) != 1) die("server gone before READ");
  if (write(go_pipe[1], "g", 1) != 1) die("write go");
  while (!waits(writer_tid)) usleep(1000);
  // No malloc from here on (it could need the lock): a stack buffer and write(2).
  char line[32];
  int len = snprintf(line, sizeof(line), "%d\n", server);
  if (write(1, line, (size_t)len) != len) die("write");
  waitpid(server, NULL, 0);  // reaped once killed (or its alarm)
  for (;;) pause();
}
