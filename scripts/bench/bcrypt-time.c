/*
 * Times bcrypt verifications with libxcrypt's crypt_r, the call Drawbridge
 * makes (Sources/DrawbridgeCore/Passwords/LibXCrypt.swift).
 *
 *   cc -O2 -o bcrypt-time bcrypt-time.c -lcrypt -lpthread
 *   bcrypt-time HASH PASSWORD ITERATIONS THREADS
 *
 * Prints one "key value" line per figure:
 *   single: ITERATIONS sequential verifications on one thread (mean/min/max ms);
 *   parallel: THREADS threads verifying ITERATIONS each at the same time
 *             (aggregate verifications per second), a cross-check of cores / mean.
 * Exits 1 if a verification does not reproduce HASH (wrong password or hash).
 */
#define _GNU_SOURCE
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *hash;
static const char *password;
static int iterations;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int verify_once(struct crypt_data *data) {
    memset(data, 0, sizeof *data);
    const char *out = crypt_r(password, hash, data);
    return out != NULL && strcmp(out, hash) == 0;
}

static void *worker(void *arg) {
    int *ok = arg;
    struct crypt_data *data = malloc(sizeof *data);
    *ok = data != NULL;
    for (int i = 0; i < iterations && *ok; i++) *ok = verify_once(data);
    free(data);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HASH PASSWORD ITERATIONS THREADS\n", argv[0]);
        return 2;
    }
    hash = argv[1];
    password = argv[2];
    iterations = atoi(argv[3]);
    int threads = atoi(argv[4]);
    if (iterations < 1 || threads < 1 || threads > 256) {
        fprintf(stderr, "ITERATIONS and THREADS must be positive\n");
        return 2;
    }

    struct crypt_data *data = malloc(sizeof *data);
    if (data == NULL) return 2;
    if (!verify_once(data)) { /* warm-up, and proof the pair matches */
        fprintf(stderr, "crypt_r did not reproduce the hash (wrong password?)\n");
        return 1;
    }
    double total = 0, min = 1e12, max = 0;
    for (int i = 0; i < iterations; i++) {
        double start = now_ms();
        if (!verify_once(data)) { fprintf(stderr, "verification failed\n"); return 1; }
        double took = now_ms() - start;
        total += took;
        if (took < min) min = took;
        if (took > max) max = took;
    }
    free(data);
    printf("single_verifications %d\n", iterations);
    printf("single_mean_ms %.3f\nsingle_min_ms %.3f\nsingle_max_ms %.3f\n", total / iterations, min, max);

    pthread_t tids[256];
    int oks[256];
    double start = now_ms();
    for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, worker, &oks[t]);
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    double elapsed = now_ms() - start;
    for (int t = 0; t < threads; t++) if (!oks[t]) { fprintf(stderr, "parallel verification failed\n"); return 1; }
    printf("parallel_threads %d\nparallel_verifications %d\nparallel_seconds %.3f\nparallel_per_second %.2f\n",
           threads, threads * iterations, elapsed / 1e3, threads * iterations / (elapsed / 1e3));
    return 0;
}
