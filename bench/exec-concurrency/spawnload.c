/*
 * spawnload — the floor for exec under concurrency: N threads, each a loop of posix_spawn + waitpid of a program
 * (the benchmark gives it `/bin/sh -c true`), for a fixed time. Nothing else: no pipes, no HTTP.
 *
 * Usage: spawnload N SECONDS OUTFILE PROGRAM [ARGS...]
 * Runs N spawner threads for SECONDS (wall clock, CLOCK_MONOTONIC), each timing every posix_spawnp + waitpid of its
 * child. Writes one latency per line to OUTFILE in milliseconds (all threads), then prints one line on stdout:
 *   spawns=S seconds=T self_cpu_s=U children_cpu_s=C
 * (T: from the first spawn to the last reap; U, C: getrusage of this process and of its reaped children, user + sys).
 * Exits non-zero if a spawn fails or a child does not exit 0. The child inherits stdin/stdout/stderr and environ.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static char **child_argv;
static double deadline_ms;

struct worker {
    pthread_t thread;
    double *samples;
    size_t count, capacity;
    int failed;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int spawn_wait(void) {
    pid_t pid;
    int rc = posix_spawnp(&pid, child_argv[0], NULL, NULL, child_argv, environ);
    if (rc != 0) {
        fprintf(stderr, "spawnload: posix_spawnp %s: %s\n", child_argv[0], strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("spawnload: waitpid");
            return -1;
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "spawnload: %s: wait status 0x%x\n", child_argv[0], (unsigned)status);
        return -1;
    }
    return 0;
}

static void *run(void *arg) {
    struct worker *w = arg;
    for (;;) {
        double t0 = now_ms();
        if (t0 >= deadline_ms) break;
        if (spawn_wait() != 0) {
            w->failed = 1;
            break;
        }
        if (w->count == w->capacity) {
            size_t capacity = w->capacity ? w->capacity * 2 : 4096;
            double *grown = realloc(w->samples, capacity * sizeof(double));
            if (grown == NULL) {
                perror("spawnload: realloc");
                w->failed = 1;
                break;
            }
            w->samples = grown;
            w->capacity = capacity;
        }
        w->samples[w->count++] = now_ms() - t0;
    }
    return NULL;
}

static double cpu_s(int who) {
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: spawnload N SECONDS OUTFILE PROGRAM [ARGS...]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (n <= 0 || n > 4096 || seconds <= 0) {
        fprintf(stderr, "spawnload: N must be 1..4096 and SECONDS > 0\n");
        return 2;
    }
    child_argv = argv + 4;
    struct worker *workers = calloc((size_t)n, sizeof(struct worker));
    if (workers == NULL) {
        perror("spawnload: calloc");
        return 1;
    }
    double start = now_ms();
    deadline_ms = start + seconds * 1e3;
    int started = 0, failed = 0;
    for (; started < n; started++) {
        int rc = pthread_create(&workers[started].thread, NULL, run, &workers[started]);
        if (rc != 0) {
            fprintf(stderr, "spawnload: pthread_create: %s\n", strerror(rc));
            failed = 1;
            deadline_ms = 0; /* the threads already started stop after their current spawn */
            break;
        }
    }
    size_t total = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        failed |= workers[i].failed;
        total += workers[i].count;
    }
    double elapsed_s = (now_ms() - start) / 1e3;
    if (failed) return 1;
    FILE *out = fopen(argv[3], "w");
    if (out == NULL) {
        perror("spawnload: fopen");
        return 1;
    }
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < workers[i].count; j++) fprintf(out, "%.6f\n", workers[i].samples[j]);
    if (fclose(out) != 0) {
        perror("spawnload: fclose");
        return 1;
    }
    printf("spawns=%zu seconds=%.6f self_cpu_s=%.6f children_cpu_s=%.6f\n", total, elapsed_s, cpu_s(RUSAGE_SELF),
           cpu_s(RUSAGE_CHILDREN));
    for (int i = 0; i < n; i++) free(workers[i].samples);
    free(workers);
    return 0;
}
