/* jpeg-one-core.c - libturbojpeg encode time of one viewer frame on one core, for machines
 * where the viewer bench cannot run (no Bun or chromium, e.g. a GPU node): the same call as
 * src/render/jpeg.ts (RGBA, 4:2:0, FASTDCT, q60 and q85). The frame comes from
 * `remotevis bench viewer --frame-out frame.rgba` (1280x720 RGBA of the CT).
 *   cc -O2 -o jpeg-one-core bench/jpeg-one-core.c -ldl && ./jpeg-one-core frame.rgba
 * (LD_LIBRARY_PATH=DIR where libturbojpeg.so.0 is not installed). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <dlfcn.h>
typedef void *(*init_t)(void);
typedef unsigned long (*bufsize_t)(int, int, int);
typedef int (*comp_t)(void *, const unsigned char *, int, int, int, int, unsigned char **, unsigned long *, int, int, int);
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  void *h = dlopen("libturbojpeg.so.0", RTLD_NOW); if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  init_t init = (init_t)dlsym(h, "tjInitCompress"); bufsize_t bs = (bufsize_t)dlsym(h, "tjBufSize"); comp_t comp = (comp_t)dlsym(h, "tjCompress2");
  FILE *f = fopen(argv[1], "rb"); int w = 1280, hgt = 720; unsigned char *rgba = malloc(w * hgt * 4); fread(rgba, 1, w * hgt * 4, f); fclose(f);
  void *tj = init(); unsigned long cap = bs(w, hgt, 2); unsigned char *out = malloc(cap);
  int qs[2] = {60, 85};
  for (int qi = 0; qi < 2; qi++) {
    double ms[300]; double c0 = cpu(); unsigned long size = 0;
    for (int i = 0; i < 300; i++) { unsigned char *o = out; size = cap; double t = now(); comp(tj, rgba, w, w * 4, hgt, 7, &o, &size, 2, qs[qi], 1024 | 2048); ms[i] = now() - t; }
    double c = (cpu() - c0) / 300; qsort(ms, 300, sizeof(double), cmp);
    printf("q%d: cpu %.3f ms/frame, wall p50 %.3f p95 %.3f ms, %lu bytes\n", qs[qi], c, ms[150], ms[285], size);
  }
  return 0;
}
