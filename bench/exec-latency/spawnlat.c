/*
 * spawnlat — latency of posix_spawn + waitpid of a program, nothing else.
 *
 * The exec-latency floor is `spawnlat 1000 100 floor.txt /bin/sh -c true`: the raw cost of starting
 * `sh -c true` and reaping it on this machine. The ssh peer reuses it to time `ssh ... true` the same way.
 *
 * Usage: spawnlat ITERATIONS WARMUP OUTFILE PROGRAM [ARGS...]
 * Runs PROGRAM WARMUP times untimed, then ITERATIONS times timed (CLOCK_MONOTONIC around posix_spawnp +
 * waitpid), and writes one latency per line to OUTFILE in milliseconds. The child inherits stdin/stdout/stderr
 * and the environment. Exits non-zero if a spawn fails or the child does not exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int run_once(char **argv) {
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "spawnlat: posix_spawnp %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("spawnlat: waitpid");
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "spawnlat: %s: wait status 0x%x\n", argv[0], (unsigned)status);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: spawnlat ITERATIONS WARMUP OUTFILE PROGRAM [ARGS...]\n");
        return 2;
    }
    int iterations = atoi(argv[1]);
    int warmup = atoi(argv[2]);
    if (iterations <= 0 || warmup < 0) {
        fprintf(stderr, "spawnlat: ITERATIONS must be > 0 and WARMUP >= 0\n");
        return 2;
    }
    char **child = argv + 4;
    double *samples = malloc(sizeof(double) * (size_t)iterations);
    if (samples == NULL) {
        perror("spawnlat: malloc");
        return 1;
    }
    for (int i = 0; i < warmup; i++) {
        if (run_once(child) != 0) return 1;
    }
    for (int i = 0; i < iterations; i++) {
        double t0 = now_ms();
        if (run_once(child) != 0) return 1;
        samples[i] = now_ms() - t0;
    }
    FILE *out = fopen(argv[3], "w");
    if (out == NULL) {
        perror("spawnlat: fopen");
        return 1;
    }
    for (int i = 0; i < iterations; i++) fprintf(out, "%.6f\n", samples[i]);
    if (fclose(out) != 0) {
        perror("spawnlat: fclose");
        return 1;
    }
    free(samples);
    return 0;
}
