/**
 * The environment a program gets when its ExecSpec names none; lxnsctl's
 * --env entries are added to it (an entry replaces the default of its KEY).
 */
export const DEFAULT_ENV: readonly string[] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/"];
