// Start-up latency: exec of a server → its first HTTP 200 on 127.0.0.1:PORT, repeated N times.
//   startlat PORT PATH N -- COMMAND [ARG...]
//   startlat exit N -- COMMAND [ARG...]     (exec → exit instead, e.g. `sandboxd --version`: the runtime's own start)
// Each round: posix_spawn COMMAND (stdin/stdout/stderr /dev/null), then connect + "GET PATH" every POLL_US until a
// response starts with "HTTP/1.x 200"; the time from just before posix_spawn to the end of that response's status
// line is the round's figure. Then the server's VmRSS is read, it gets SIGTERM (SIGKILL after 5 s) and is reaped.
// Prints one line per round: "<ms> <rss_kb> <cpu_ms>". cpu_ms is the CPU time the process used up to that point (the
// sum of its threads' run time in /proc/PID/task/*/schedstat; for `exit`, user + system time from wait4): unlike the
// wall-clock figure it hardly moves with the machine's load, so A/B comparisons stay readable on a busy host.
// A round that does not answer within 30 s fails the run (exit 1).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
#define POLL_US 500 // poll period while the server is not listening: bounds the error, leaves the CPU to the server

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// 1 = got a 200, 0 = not yet (refused, reset, other status), never blocks more than 2 s on a connected socket.
static int try_get(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return 0; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {.tv_sec = 2};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char req[512];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, port);
  if (write(fd, req, n) != n) { close(fd); return 0; }
  char buf[64];
  int got = 0;
  while (got < 12) {
    ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
    if (r <= 0) break;
    got += r;
  }
  close(fd);
  buf[got] = 0;
  return got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
}

static long rss_kb(pid_t pid) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
  fclose(f);
  return kb;
}

// CPU time of every thread of pid so far (ns of run time from schedstat), in ms; -1 if unreadable.
static double cpu_ms(pid_t pid) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/task", pid);
  DIR *d = opendir(p);
  if (!d) return -1;
  unsigned long long ns = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char f[320];
    snprintf(f, sizeof f, "/proc/%d/task/%s/schedstat", pid, e->d_name);
    FILE *s = fopen(f, "r");
    unsigned long long run = 0;
    if (s) {
      if (fscanf(s, "%llu", &run) == 1) ns += run;
      fclose(s);
    }
  }
  closedir(d);
  return ns / 1e6;
}

static void stop(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 5000; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid) return;
    usleep(1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static int exec_to_exit(int rounds, char **cmd, posix_spawn_file_actions_t *fa) {
  for (int r = 0; r < rounds; r++) {
    double t0 = now_ms();
    pid_t pid;
    int status;
    struct rusage ru;
    if (posix_spawnp(&pid, cmd[0], fa, NULL, cmd, environ) != 0) { perror("posix_spawn"); return 1; }
    wait4(pid, &status, 0, &ru);
    double t = now_ms() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "%s failed\n", cmd[0]); return 1; }
    double cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    printf("%.3f 0 %.3f\n", t, cpu);
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "exit") == 0 && strcmp(argv[3], "--") == 0) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    return exec_to_exit(atoi(argv[2]), argv + 4, &fa);
  }
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: startlat PORT PATH N -- COMMAND [ARG...]\n");
    return 2;
  }
  int port = atoi(argv[1]), rounds = atoi(argv[3]);
  const char *path = argv[2];
  char **cmd = argv + 5;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  for (int r = 0; r < rounds; r++) {
    // the previous round's server must be gone from the port before this one starts
    for (int i = 0; i < 2000 && try_get(port, path); i++) usleep(1000);
    double t0 = now_ms();
    pid_t pid;
    if (posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ) != 0) { perror("posix_spawn"); return 1; }
    int ok = 0;
    double t = 0;
    while (now_ms() - t0 < 30000) {
      if (try_get(port, path)) { t = now_ms() - t0; ok = 1; break; }
      if (waitpid(pid, NULL, WNOHANG) == pid) { fprintf(stderr, "%s exited before answering\n", cmd[0]); return 1; }
      usleep(POLL_US);
    }
    if (!ok) { fprintf(stderr, "%s did not answer 200 on %s within 30 s\n", cmd[0], path); stop(pid); return 1; }
    double cpu = cpu_ms(pid);
    printf("%.3f %ld %.3f\n", t, rss_kb(pid), cpu);
    fflush(stdout);
    stop(pid);
  }
  return 0;
}
