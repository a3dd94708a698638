/* The CPU's f32 FMA ceiling, to read a convolution's GFLOP/s against (bench/conv_probe.py,
 * docs/conventions.md "Folding"). Twelve independent accumulators per thread hide the FMA
 * latency, so the loop runs at the FMA units' throughput; AVX2 (8 floats a vector) and, where
 * built with -DAVX512, AVX-512 (16). The best of 5 repetitions is the figure.
 *
 *   gcc -O2 -mavx2 -mfma -fopenmp bench/fma_peak.c -o /tmp/fma_peak && OMP_NUM_THREADS=2 /tmp/fma_peak
 *   gcc -O2 -mavx512f -DAVX512 -fopenmp bench/fma_peak.c -o /tmp/fma_peak512 && OMP_NUM_THREADS=2 /tmp/fma_peak512
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

#ifdef AVX512
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define NAME "avx512"
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define NAME "avx2"
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const long steps = 20000000L;
    double best = 0;
    float sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
#pragma omp parallel reduction(+ : sink)
        {
            vec a[12], b = SET1(1.0000001f), c = SET1(1e-7f);
            for (int i = 0; i < 12; i++) a[i] = SET1((float)i);
            for (long k = 0; k < steps; k++) {
#pragma GCC unroll 12
                for (int i = 0; i < 12; i++) a[i] = FMA(a[i], b, c);
            }
            for (int i = 0; i < 12; i++) sink += ((float *)&a[i])[0];
        }
        double gflops = (double)omp_get_max_threads() * steps * 12 * LANES * 2 / (now() - t0) / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("%s FMA peak: %.1f GFLOP/s on %d threads (checksum %g)\n", NAME, best, omp_get_max_threads(), sink);
    return 0;
}
