/*
 * rvr.h - librvr, the built-in volume renderer of RemoteVis.
 *
 * THIS HEADER IS THE MANUAL.
 *
 * librvr renders one 3D scalar volume and one set of points (spheres) into
 * RGBA8 images: direct volume rendering with a 1D transfer function (TF),
 * MIP / MinIP / average projections, isosurfaces, axis-aligned and oblique
 * slices, with local (S1), shadow (S2) and ambient-occlusion (S3) shading.
 * It also hands back sub-boxes of the volume in their original bytes
 * (retrieve). It is plain C11 + OpenMP with no other dependency; it is
 * called from Bun through bun:ffi, so every struct here has a fixed layout
 * (documented byte offsets, only int32/uint32/uint64/float/double fields and
 * fixed arrays, no bitfields, no unions, no pointers).
 *
 * Backends
 * --------
 * A renderer is an opaque handle created for one backend:
 *   RVR_BACKEND_CPU   C + OpenMP (always available)
 *   RVR_BACKEND_CUDA  CUDA, built in where nvcc was present at build time
 *                     (static CUDA runtime: the library needs no CUDA
 *                     library to load; libcuda.so.1, the driver, is opened at
 *                     run time); RVR_ERR_UNSUPPORTED when not built in, or
 *                     without a driver or a device
 *   RVR_BACKEND_AUTO  CUDA when it is built and a GPU is usable, else CPU
 * Every function below behaves the same for every backend; images of the
 * same scene agree within the tolerance stated by each backend's tests.
 * CUDA backend (see cuda/README.md): the volume lives on device 0 as a 3D
 * texture (uint8 when the dtype is u8 and the window covers the data, else
 * the normalized uint16) sampled with the hardware's trilinear filter, whose
 * weights have 8 fractional bits: images agree with the CPU backend's within
 * a few levels per channel (tests/cuda_test.c states the tolerance; MIP/MinIP
 * at voxel centres, slices with RVR_F_NEAREST and empty-space skipping are
 * exact on both). Upload: from page-locked memory (rvr_host_alloc) straight
 * by DMA, from ordinary memory through two page-locked staging buffers.
 * Images: into page-locked memory (rvr_host_alloc, rvr_host_register) the
 * GPU writes the pixels itself; into ordinary memory through a staging copy.
 * The device needs room for the original bytes plus the texture (1 or 2
 * bytes per voxel) during rvr_renderer_set_volume, and the old volume's
 * texture while it is replaced; RVR_ERR_NOMEM when that does not fit.
 *
 * Typical use
 * -----------
 *   rvr_renderer *r;
 *   rvr_renderer_create(RVR_BACKEND_AUTO, &r);
 *   rvr_volume_desc d = {0};  d.shape[0] = Z; d.shape[1] = Y; d.shape[2] = X;
 *                             d.dtype = RVR_DTYPE_U16;  (window 0,0 = automatic)
 *   rvr_renderer_set_volume(r, &d, data, bytes);
 *   rvr_renderer_set_tf(r, rgba, 256);
 *   rvr_camera c;          rvr_camera_init(&c);           (then set eye/target)
 *   rvr_render_settings s; rvr_render_settings_init(&s);  (then set mode, ...)
 *   rvr_render(r, &c, &s, 1280, 720, image, 1280 * 720 * 4, NULL);
 *   rvr_renderer_destroy(r);
 *
 * Coordinates
 * -----------
 * The volume is a logical 3D array of shape (s0, s1, s2), as numpy reports
 * it. Element [a][b][c] is the voxel with x index c, y index b, z index a:
 * axis 2 is world x, axis 1 is world y, axis 0 is world z. The memory order
 * (RVR_ORDER_C: axis 2 fastest; RVR_ORDER_F: axis 0 fastest) changes only how
 * the bytes are read, never the picture: a C and an F array with the same
 * logical content render identically.
 * World units: spacing[k] is the size of a voxel along logical axis k. The
 * volume occupies the world box [0, s2*spacing[2]] x [0, s1*spacing[1]] x
 * [0, s0*spacing[0]]; the centre of voxel (x, y, z) is at world
 * ((x + 0.5) * spacing[2], (y + 0.5) * spacing[1], (z + 0.5) * spacing[0]).
 * Points, the camera, clip boxes, clip planes and slices use these world
 * coordinates.
 *
 * Values and the window
 * ---------------------
 * Every dtype is mapped through the window [lo, hi] to a normalized value
 * v = clamp((x - lo) / (hi - lo), 0, 1), stored internally as uint16
 * (round(v * 65535)). NaN voxels (f32/f64) become v = 0, i.e. they look like
 * the low end of the window: empty with any TF whose opacity is 0 there. The
 * original bytes are kept (copied, or borrowed with RVR_VOLUME_BORROW) so
 * that retrieve returns them exactly and the window can change without
 * sending the volume again.
 *
 * Sampling (the same in every mode and in the reference ray caster)
 * --------
 * Rays are cast in voxel-index space (voxel centres at integer positions).
 * A ray enters the volume box at parameter t0 (>= 0, the eye or the ortho
 * image plane) and takes samples at t0 + (k + 0.5) * step, step in voxels
 * (settings.step, default 1). Clipping only removes samples; it never moves
 * the others. Samples are trilinear (RVR_F_NEAREST: nearest voxel), clamped
 * at the edges. Consequence: an orthographic view along a volume axis with
 * step 1 and the image pixels on voxel centres samples exactly at voxel
 * centres, so MIP/MinIP there equal the max/min of the data along that axis
 * exactly (also with trilinear sampling). Empty-space skipping (16^3 bricks
 * with min/max, the TF decides "empty") and early ray termination only skip
 * samples that cannot change the picture (ERT: once accumulated opacity
 * reaches settings.ert_alpha). The S1 gradient is the central difference of
 * the trilinear field at +-1 voxel along each axis, divided by the spacing.
 * Internally each 16x16 tile of rays is one work item.
 *
 * Images
 * ------
 * Output: width*height RGBA8, row 0 at the top, 4 bytes per pixel. Colours
 * are straight (non-premultiplied) alpha, composited over settings.background;
 * with RVR_F_PREMULTIPLIED they are premultiplied. With an opaque background
 * (alpha 1, the default) both are the same and alpha is 255 everywhere.
 *
 * Conventions (all functions)
 * ---------------------------
 * - Return codes: RVR_OK (0) or a negative RVR_ERR_*; rvr_strerror() gives
 *   the text. Output parameters and output buffers are written only on
 *   success; a failed call leaves the renderer as it was (the old volume,
 *   TF and points stay).
 * - The caller owns what rvr_renderer_create returns and releases it with
 *   rvr_renderer_destroy (NULL-safe). Input buffers are copied before a call
 *   returns unless a flag says otherwise (RVR_VOLUME_BORROW).
 * - Nothing here prints, calls exit()/abort() or installs signal handlers.
 *
 * Threads
 * -------
 * - One renderer must not be used by two threads at the same time (serialize
 *   calls on one handle); a handle may move between threads between calls.
 *   Exception: the read-only calls (rvr_renderer_volume_info,
 *   rvr_renderer_retrieve_size, rvr_renderer_retrieve, rvr_renderer_slice_axis)
 *   may run concurrently with each other and with rvr_render/rvr_render_slice
 *   on the same renderer, never with a set_*, clear_* or destroy call.
 *   Different renderers are independent and may be used concurrently.
 * - Rendering, precomputation and volume conversion run in parallel with
 *   OpenMP inside the call: the thread count is rvr_renderer_set_threads(),
 *   or OpenMP's default (OMP_NUM_THREADS, else the number of cores).
 *   Images are tiled (16x16 rays per tile, dynamic schedule).
 * - Functions without a renderer argument are thread-safe.
 *
 * Linking
 * -------
 * build/librvr.so links libgcc statically and depends on libgomp.so.1 (GCC's
 * OpenMP runtime, installed on every Debian/Ubuntu system with gcc or as the
 * package libgomp1), libm and libc. Built with the CUDA backend it also holds
 * the static CUDA runtime, which opens libcuda.so.1 (the NVIDIA driver) only
 * when a CUDA renderer or rvr_host_alloc is asked for; without a driver those
 * answer RVR_ERR_UNSUPPORTED and everything else works.
 */
#ifndef RVR_H
#define RVR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RVR_API __attribute__((visibility("default")))
#else
#define RVR_API
#endif

/* ------------------------------------------------------------------------ */
/* Basics                                                                   */
/* ------------------------------------------------------------------------ */

/** A renderer: one volume, one TF, one point set and their caches. Opaque. */
typedef struct rvr_renderer rvr_renderer;

/** Error codes. All are negative; RVR_OK is 0. */
enum {
    RVR_OK = 0,
    RVR_ERR_INVALID = -1,     /**< bad argument: NULL pointer, zero size, unknown enum/flag, NaN parameter */
    RVR_ERR_NOMEM = -2,       /**< out of memory (host or device) */
    RVR_ERR_UNSUPPORTED = -3, /**< backend not built into this library or no usable device */
    RVR_ERR_DTYPE = -4,       /**< unknown dtype */
    RVR_ERR_SIZE = -5,        /**< byte count does not match shape*dtype, or output buffer too small */
    RVR_ERR_RANGE = -6,       /**< box outside the volume, empty box, bad window */
    RVR_ERR_NO_VOLUME = -7,   /**< the call needs a volume and none is set */
    RVR_ERR_EMPTY = -8,       /**< zero points given (use rvr_renderer_clear_points to remove points) */
    RVR_ERR_DEVICE = -9       /**< the GPU failed: a CUDA call returned an unexpected error */
};

/** Text for an error code; never NULL ("unknown error"). Static string. Thread-safe. */
RVR_API const char *rvr_strerror(int err);

/** Library version, "1.0.0". Static string. Thread-safe. */
RVR_API const char *rvr_version(void);

/** Backends (rvr_renderer_create). */
enum {
    RVR_BACKEND_AUTO = 0,
    RVR_BACKEND_CPU = 1,
    RVR_BACKEND_CUDA = 2
};

/** Volume element types. Sizes: 1, 2, 2, 4, 4, 8 bytes; little endian (host order). */
enum {
    RVR_DTYPE_U8 = 1,
    RVR_DTYPE_U16 = 2,
    RVR_DTYPE_I16 = 3,
    RVR_DTYPE_U32 = 4,
    RVR_DTYPE_F32 = 5,
    RVR_DTYPE_F64 = 6
};

/** Memory order of the volume bytes. */
enum {
    RVR_ORDER_C = 0, /**< row-major: logical axis 2 varies fastest (numpy default) */
    RVR_ORDER_F = 1  /**< column-major: logical axis 0 varies fastest (Fortran, MATLAB) */
};

/** Bytes per element of a dtype, or RVR_ERR_DTYPE. Thread-safe. */
RVR_API int rvr_dtype_size(int32_t dtype);

/* ------------------------------------------------------------------------ */
/* Renderer                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Create a renderer.
 * @param backend  RVR_BACKEND_CPU, RVR_BACKEND_CUDA or RVR_BACKEND_AUTO.
 * @param out      receives the renderer on success.
 * @return RVR_OK; RVR_ERR_INVALID (out NULL, unknown backend);
 *         RVR_ERR_UNSUPPORTED (CUDA asked for but not built in, or no
 *         driver / no device); RVR_ERR_NOMEM; RVR_ERR_DEVICE.
 * A new renderer has no volume, no points, the default TF (grey ramp, opacity
 * 0 at v=0 rising linearly to 0.05 per voxel at v=1) and the default point
 * colormap (blue - cyan - green - yellow - red). Thread-safe.
 */
RVR_API int rvr_renderer_create(int32_t backend, rvr_renderer **out);

/**
 * Page-locked ("pinned") host memory, for the buffer a volume is received
 * into: rvr_renderer_set_volume uploads from it by DMA at full speed (about
 * 8x faster than from ordinary memory), no staging copy. Free it with
 * rvr_host_free. Works only when the CUDA backend is built in and a driver
 * is present. Thread-safe.
 * @return RVR_OK; RVR_ERR_INVALID (out NULL, bytes 0); RVR_ERR_UNSUPPORTED
 *         (no CUDA backend or no driver: use ordinary memory); RVR_ERR_NOMEM.
 */
RVR_API int rvr_host_alloc(uint64_t bytes, void **out);

/** Free memory from rvr_host_alloc. NULL-safe. Thread-safe. */
RVR_API void rvr_host_free(void *p);

/**
 * Page-lock memory the caller already has (for example a mapped frame file
 * that images are rendered into) and map it for the GPU: the CUDA backend
 * then writes images straight into it, as into rvr_host_alloc memory, with
 * no copy off the GPU and no staging buffer. Undo it with
 * rvr_host_unregister(p) before the memory is freed or unmapped. It locks
 * every page: register a buffer once, not per frame.
 * @return RVR_OK; RVR_ERR_INVALID (p NULL, bytes 0, already registered);
 *         RVR_ERR_UNSUPPORTED (no CUDA backend or no driver);
 *         RVR_ERR_NOMEM (the pages cannot be locked).
 * Thread-safe.
 */
RVR_API int rvr_host_register(void *p, uint64_t bytes);

/** Undo rvr_host_register(p, ...) (p as registered). NULL-safe. Thread-safe. */
RVR_API void rvr_host_unregister(void *p);

/** Destroy a renderer and everything it owns. NULL-safe. A borrowed volume
 *  buffer is not touched (it is the caller's). */
RVR_API void rvr_renderer_destroy(rvr_renderer *r);

/** The backend actually chosen (RVR_BACKEND_CPU or RVR_BACKEND_CUDA), or
 *  RVR_ERR_INVALID if r is NULL. */
RVR_API int rvr_renderer_backend(const rvr_renderer *r);

/**
 * OpenMP threads used by this renderer's calls. 0 = OpenMP default
 * (OMP_NUM_THREADS, else all cores). Ignored by GPU backends.
 * @return RVR_OK; RVR_ERR_INVALID (r NULL, n < 0 or n > 4096).
 */
RVR_API int rvr_renderer_set_threads(rvr_renderer *r, int32_t n);

/* ------------------------------------------------------------------------ */
/* Volume                                                                   */
/* ------------------------------------------------------------------------ */

/** rvr_volume_desc.flags: do not copy the data; the renderer keeps the
 *  pointer for retrieve and for rvr_renderer_set_window, and the caller keeps
 *  the buffer alive and unchanged until the volume is replaced or the
 *  renderer destroyed. Saves one copy of the volume (e.g. the receive buffer
 *  of a transfer). Without it the renderer copies the original bytes. */
#define RVR_VOLUME_BORROW 1u
/** Flag of rvr_volume_desc: show a large volume at once, convert it meanwhile (CPU backend;
 *  the CUDA backend ignores it). Converting many GiB to the storage bricks takes longer than
 *  receiving them. With this flag, a volume of more than 2^22 voxels (161^3) gets a coarse
 *  copy first: each axis divided by the smallest integer f that leaves at most 2^22 voxels
 *  (rounding up), each voxel the average of its f^3 (NaN left out; fewer at the far edges),
 *  normalized through the same window.
 *  set_volume returns once that copy is made (while rvr_renderer_volume_begin streams, it is
 *  made from rows as they land) and a thread of the renderer converts the full form. Until
 *  that is done, frames with lod > 1 draw the coarse copy (S1 shading at most, no labels;
 *  rvr_render_stats.volume_level = f); every call that needs the full form waits for it
 *  first: frames with lod <= 1, slices, rvr_renderer_set_window, rvr_renderer_volume_wait.
 *  A volume set meanwhile stops the conversion. Testing: the environment variable
 *  RVR_REFINE_HOLD_MS holds the conversion back that many milliseconds. */
#define RVR_VOLUME_PROGRESSIVE 2u

/**
 * Describes a volume. 64 bytes. Zero-initialise, then fill.
 *   off  0  uint64_t shape[3]    logical shape (s0, s1, s2) = (z, y, x) extents; each >= 1
 *   off 24  float    spacing[3]  voxel size per logical axis (z, y, x); 0 = 1.0; must be > 0
 *   off 36  int32_t  dtype       RVR_DTYPE_*
 *   off 40  int32_t  order       RVR_ORDER_C or RVR_ORDER_F
 *   off 44  uint32_t flags       RVR_VOLUME_*
 *   off 48  double   window_lo   normalization window; lo == hi (e.g. both 0)
 *   off 56  double   window_hi   = automatic: data min..max (NaN ignored;
 *                                constant data: [min, min + 1]); lo > hi is an error
 */
typedef struct rvr_volume_desc {
    uint64_t shape[3];
    float spacing[3];
    int32_t dtype;
    int32_t order;
    uint32_t flags;
    double window_lo;
    double window_hi;
} rvr_volume_desc;

/**
 * Set (or replace) the volume. Converts it to the internal normalized form,
 * builds the bricks' min/max and invalidates the S2/S3 caches.
 * @param r      renderer.
 * @param desc   description; read during the call only.
 * @param data   the bytes: shape[0]*shape[1]*shape[2] elements of dtype in
 *               the given order. Copied unless RVR_VOLUME_BORROW.
 * @param bytes  size of data; must equal the product above times the dtype size.
 * @return RVR_OK; RVR_ERR_INVALID (NULL args, a shape of 0, spacing <= 0 or
 *         not finite, unknown order or flags); RVR_ERR_DTYPE; RVR_ERR_SIZE
 *         (bytes mismatch, a shape entry above 2^30, or the element count
 *         overflows 64 bits); RVR_ERR_RANGE (window
 *         lo > hi or not finite); RVR_ERR_NOMEM. On error the previous volume
 *         stays.
 * Memory: about 2.9 bytes per voxel (uint16 in 32^3 bricks with a 2-voxel
 * apron, so that a sample and its gradient never leave one brick) plus the
 * original bytes unless borrowed. Multi-threaded.
 */
RVR_API int rvr_renderer_set_volume(rvr_renderer *r, const rvr_volume_desc *desc,
                                    const void *data, uint64_t bytes);

/**
 * Take a volume while it arrives (for example into the receive buffer of a
 * transfer), so that little is left to do when its last byte lands:
 *
 *   rvr_renderer_volume_begin(r, &d, buf, bytes);   // checks d like set_volume
 *   ... as bytes land: rvr_renderer_volume_landed(r, n);  // [0, n) are final
 *   rvr_renderer_set_volume(r, &d, buf, bytes);     // completes it
 *
 * The CUDA backend copies landed bytes to the device at once (asynchronously
 * when buf is page-locked, see rvr_host_alloc); the CPU backend takes their
 * min/max. rvr_renderer_set_volume with the same buf, bytes, shape, dtype and
 * order then reads only what was not taken yet (its window and flags apply as
 * usual). buf is borrowed from begin until that set_volume returns (and after
 * it as RVR_VOLUME_BORROW says); the caller must not change landed bytes.
 * The old volume is drawn until set_volume commits and stays if anything
 * fails. A set_volume of other bytes, rvr_renderer_set_window and
 * rvr_renderer_volume_drop drop the stream (its device memory is freed).
 * @return begin: the errors of rvr_renderer_set_volume, RVR_ERR_DEVICE/NOMEM
 *         for the device copy. landed: RVR_OK (n below what was taken is a
 *         no-op); RVR_ERR_INVALID (r NULL, no stream, n > bytes); device
 *         errors, which drop the stream. Same thread rules as every call.
 */
RVR_API int rvr_renderer_volume_begin(rvr_renderer *r, const rvr_volume_desc *desc,
                                      const void *data, uint64_t bytes);
RVR_API int rvr_renderer_volume_landed(rvr_renderer *r, uint64_t n);

/** Wait until the current volume's full form is in place (RVR_VOLUME_PROGRESSIVE); returns at
 *  once without a conversion running. @return RVR_OK; RVR_ERR_INVALID (r NULL). */
RVR_API int rvr_renderer_volume_wait(rvr_renderer *r);
/** Drop a stream begun with rvr_renderer_volume_begin. NULL-safe, no-op without one. */
RVR_API void rvr_renderer_volume_drop(rvr_renderer *r);

/**
 * Change the window of the current volume (recomputes the normalized data from
 * the original bytes; lo == hi = automatic as in rvr_volume_desc).
 * @return RVR_OK; RVR_ERR_INVALID (r NULL); RVR_ERR_NO_VOLUME; RVR_ERR_RANGE.
 */
RVR_API int rvr_renderer_set_window(rvr_renderer *r, double lo, double hi);

/**
 * Facts about the current volume. 80 bytes.
 *   off  0  uint64_t shape[3]
 *   off 24  int32_t  dtype
 *   off 28  int32_t  order
 *   off 32  double   window_lo     the window in use (after "automatic")
 *   off 40  double   window_hi
 *   off 48  double   data_min      over all non-NaN voxels (NaN if all are NaN)
 *   off 56  double   data_max
 *   off 64  uint64_t nan_count     NaN voxels (f32/f64)
 *   off 72  uint64_t bytes         size of the original data
 */
typedef struct rvr_volume_info {
    uint64_t shape[3];
    int32_t dtype;
    int32_t order;
    double window_lo;
    double window_hi;
    double data_min;
    double data_max;
    uint64_t nan_count;
    uint64_t bytes;
} rvr_volume_info;

/** @return RVR_OK; RVR_ERR_INVALID (NULL args); RVR_ERR_NO_VOLUME. */
RVR_API int rvr_renderer_volume_info(const rvr_renderer *r, rvr_volume_info *out);

/**
 * Bytes that rvr_renderer_retrieve writes for a box:
 * prod_k ceil((hi[k] - lo[k]) / step[k]) * dtype size.
 * @param lo    first index per logical axis (inclusive).
 * @param hi    end index per logical axis (exclusive); lo < hi <= shape.
 * @param step  stride per logical axis, >= 1.
 * @return RVR_OK; RVR_ERR_INVALID (NULL args, step 0); RVR_ERR_NO_VOLUME;
 *         RVR_ERR_RANGE (lo >= hi or hi > shape on some axis).
 */
RVR_API int rvr_renderer_retrieve_size(const rvr_renderer *r, const uint64_t lo[3],
                                       const uint64_t hi[3], const uint32_t step[3],
                                       uint64_t *bytes_out);

/**
 * Copy a strided sub-box of the ORIGINAL data, byte-exact, in the volume's
 * dtype and memory order: element [i][j][k] of the result (logical shape
 * ceil((hi-lo)/step)) is the original element [lo0+i*step0][lo1+j*step1][lo2+k*step2],
 * laid out C or F as the volume was.
 * @param out        destination; out_bytes must be >= rvr_renderer_retrieve_size.
 * @return as rvr_renderer_retrieve_size, plus RVR_ERR_SIZE (out too small).
 * Multi-threaded. Reads only the original bytes (a borrowed buffer must be alive).
 */
RVR_API int rvr_renderer_retrieve(const rvr_renderer *r, const uint64_t lo[3],
                                  const uint64_t hi[3], const uint32_t step[3],
                                  void *out, uint64_t out_bytes);

/* ------------------------------------------------------------------------ */
/* Transfer function and points                                             */
/* ------------------------------------------------------------------------ */

/**
 * Set the 1D transfer function: n RGBA float entries (straight, not
 * premultiplied), rgba[4*i .. 4*i+3] for normalized value i/(n-1); linear
 * interpolation in between; values are clamped to [0, 1]. Alpha is the
 * opacity of one voxel length: it is corrected for the sample distance
 * (a' = 1 - (1 - a)^step). Internally resampled to 4096 entries.
 * @param n  2 .. 65536 entries (256 is typical).
 * @return RVR_OK; RVR_ERR_INVALID (NULL, n out of range, NaN/inf entries);
 *         RVR_ERR_NOMEM. Invalidates the S2/S3 caches.
 */
RVR_API int rvr_renderer_set_tf(rvr_renderer *r, const float *rgba, uint32_t n);

/**
 * Set (replace) the points: n points, xyz[3*i..3*i+2] world coordinates,
 * values[i] their values. Copied. Each point is drawn as an opaque sphere of
 * radius settings.point_scale * value (world units), coloured by the point
 * colormap over [point_cmap_lo, point_cmap_hi] and shaded like a surface.
 * Points whose radius is <= 0 or whose coordinates/value are not finite are
 * never drawn.
 * @return RVR_OK; RVR_ERR_INVALID (NULL pointers); RVR_ERR_EMPTY (n == 0; the
 *         old points stay); RVR_ERR_SIZE (n > 2^32 - 1); RVR_ERR_NOMEM.
 * Cost per frame: O(n) projection and binning into image tiles, then one exact
 * ray-sphere test per ray of each tile a sphere's bounds touch.
 */
RVR_API int rvr_renderer_set_points(rvr_renderer *r, const float *xyz, const float *values,
                                    uint64_t n);

/** Remove all points. @return RVR_OK; RVR_ERR_INVALID (r NULL). */
RVR_API int rvr_renderer_clear_points(rvr_renderer *r);

/**
 * Colormap for the points: n RGB(A) entries of 4 floats over the value range
 * [point_cmap_lo, point_cmap_hi]; alpha is ignored (points are opaque).
 * @param n  2 .. 65536. @return RVR_OK; RVR_ERR_INVALID; RVR_ERR_NOMEM.
 */
RVR_API int rvr_renderer_set_point_colormap(rvr_renderer *r, const float *rgba, uint32_t n);

/* ------------------------------------------------------------------------ */
/* Camera and render settings                                               */
/* ------------------------------------------------------------------------ */

enum {
    RVR_PROJ_PERSPECTIVE = 0,
    RVR_PROJ_ORTHO = 1
};

/**
 * Camera, world coordinates. 48 bytes.
 *   off  0  float   eye[3]        perspective: centre of projection; ortho: a
 *                                 point on the image plane (rays start there, t >= 0)
 *   off 12  float   target[3]     looked-at point (view direction = target - eye)
 *   off 24  float   up[3]         up hint (must not be parallel to the view direction)
 *   off 36  float   fov_y_deg     perspective: vertical field of view in degrees (0 < fov < 180)
 *   off 40  float   ortho_height  ortho: world height of the image (> 0)
 *   off 44  int32_t projection    RVR_PROJ_*
 * Pixel (i, j) (j = 0 the top row) looks through image-plane position
 * ((2(i+0.5)/W - 1) * aspect, 1 - 2(j+0.5)/H) times tan(fov/2) (perspective)
 * or times ortho_height/2 (ortho), aspect = W/H; +x of the image is
 * normalize(view x up), +y is up.
 */
typedef struct rvr_camera {
    float eye[3];
    float target[3];
    float up[3];
    float fov_y_deg;
    float ortho_height;
    int32_t projection;
} rvr_camera;

/** Fill a camera with defaults: perspective, eye (0,0,-1), target (0,0,0),
 *  up (0,1,0), fov 40, ortho_height 1. Thread-safe. */
RVR_API void rvr_camera_init(rvr_camera *c);

/** Render modes. */
enum {
    RVR_MODE_COMPOSITE = 0, /**< front-to-back emission/absorption with the TF */
    RVR_MODE_MIP = 1,       /**< maximum intensity projection */
    RVR_MODE_MINIP = 2,     /**< minimum intensity projection */
    RVR_MODE_AVERAGE = 3,   /**< mean of the samples along the ray */
    RVR_MODE_ISO = 4        /**< first sample >= iso_value, refined linearly, shaded, opaque */
};
/* MIP/MinIP/average give a value v per ray: drawn as the TF colour at v with
 * the TF's (uncorrected) alpha over the background, or, with RVR_F_GRAY, as
 * grey round(255 v) with alpha 1. Rays that take no sample show the background.
 * ISO draws the TF colour at iso_value (alpha 1), shaded by the enabled
 * shading terms; with no shading bits it is shaded with S1. */

/** settings.shading bits (0 = S0: TF colour, no lighting).
 *  S2 light volume: one value per cell of a grid of at most 256 cells per
 *  axis (cells of f^3 voxels, f = ceil(largest dim / 256)), built by sweeping
 *  slices away from the light: the light reaching a cell is the light leaving
 *  the upstream cells times their transmittance (TF opacity, per voxel
 *  length). S3 accessibility: grid of at most 96 cells per axis; per cell the
 *  mean transmittance out to ao_radius along 14 directions (6 axes, 8
 *  diagonals) - Miller's accessibility shading on the TF opacity. Both are
 *  sampled trilinearly at each shaded sample. */
#define RVR_SHADE_LOCAL 1u  /**< S1: Blinn-Phong with the local gradient (central differences) */
#define RVR_SHADE_SHADOW 2u /**< S2: direct light attenuated toward the light (light volume, cached) */
#define RVR_SHADE_AO 4u     /**< S3: ambient term times accessibility (occlusion volume, cached) */

/** settings.flags bits. */
#define RVR_F_NEAREST 1u       /**< nearest-voxel sampling instead of trilinear (volume and slices) */
#define RVR_F_GRAY 2u          /**< MIP/MinIP/average/slices: grey value instead of the TF */
#define RVR_F_PREMULTIPLIED 4u /**< write premultiplied RGBA (default straight) */
#define RVR_F_CLIP_BOX 8u      /**< keep only samples inside [clip_min, clip_max] */
#define RVR_F_POINT_FILTER 16u /**< draw only points with point_filter_lo <= value <= point_filter_hi */
#define RVR_F_NO_SKIP 32u      /**< disable empty-space skipping (tests, benchmarks) */
#define RVR_F_NO_ERT 64u       /**< disable early ray termination (tests, benchmarks) */
#define RVR_F_HIDE_VOLUME 128u /**< draw only the points */
/** Offset each ray's sample grid by a fixed per-pixel fraction of a step (a hash of the pixel,
 *  the same on every backend and every frame): regular sampling leaves "wood grain" rings on
 *  smooth surfaces; this turns them into fine noise. Samples are then no longer at
 *  t0 + (k + 0.5) * step but at t0 + (k + j) * step, j in [0, 1) per pixel. Off by default, so
 *  the exactness statements above hold; viewers turn it on. */
#define RVR_F_JITTER 256u
/** Slices: draw segmentation labels filled (tinted by the class alpha) instead of as outlines
 *  (see rvr_renderer_set_labels). */
#define RVR_F_LABEL_FILL 512u
/** Trace the image's bottom rows first (CUDA; the pixels are the same, only their order
 *  changes): a distributed rank whose part hides a farther rank's rows below it on the screen
 *  finishes those first, and the farther rank, tracing them last, finds them done (see
 *  rvr_renderer_set_occluder). */
#define RVR_F_ROWS_UP 1024u

#define RVR_MAX_CLIP_PLANES 6

/**
 * Render settings. 224 bytes. Start from rvr_render_settings_init().
 *   off   0  int32_t  mode             RVR_MODE_*
 *   off   4  uint32_t shading          RVR_SHADE_* bits
 *   off   8  uint32_t flags            RVR_F_* bits
 *   off  12  float    step             sample distance in voxels; 0 = 1.0; max 64
 *   off  16  float    ert_alpha        early ray termination opacity; 0 = 0.99; 1 = off
 *   off  20  float    iso_value        ISO threshold, normalized value in [0, 1]
 *   off  24  float    background[4]    RGBA in [0, 1], straight
 *   off  40  float    light_dir[3]     world direction TOWARD the light; (0,0,0) =
 *                                      headlight (from the camera). S2 with a
 *                                      headlight recomputes the light volume
 *                                      whenever the view direction changes.
 *   off  52  float    ambient          Blinn-Phong weights: colour = tf.rgb *
 *   off  56  float    diffuse            (ambient*AO + diffuse*|n.l|*shadow)
 *   off  60  float    specular           + specular*schlick(|n.h|, shininess)*shadow
 *   off  64  float    shininess
 *   off  68  uint32_t lod              progressive: 1 (or 0) = full; k > 1 = one ray per
 *                                      k x k pixel block, block filled (preview)
 *   off  72  float    clip_min[3]      world clip box (RVR_F_CLIP_BOX)
 *   off  84  float    clip_max[3]
 *   off  96  uint32_t num_planes       clip planes in use, 0 .. RVR_MAX_CLIP_PLANES
 *   off 100  float    ao_radius        S3 radius in voxels; 0 = max(4, largest dim / 16)
 *   off 104  float    planes[6][4]     (nx, ny, nz, d): keep world p with n.p + d >= 0
 *   off 200  float    point_scale      sphere radius = point_scale * value (world units)
 *   off 204  float    point_filter_lo  RVR_F_POINT_FILTER range (inclusive)
 *   off 208  float    point_filter_hi
 *   off 212  float    point_cmap_lo    colormap range; lo >= hi = min..max of the values
 *   off 216  float    point_cmap_hi
 *   off 220  uint32_t reserved         0
 * Clipping (box, planes) applies to the volume and slices, not to points.
 */
typedef struct rvr_render_settings {
    int32_t mode;
    uint32_t shading;
    uint32_t flags;
    float step;
    float ert_alpha;
    float iso_value;
    float background[4];
    float light_dir[3];
    float ambient;
    float diffuse;
    float specular;
    float shininess;
    uint32_t lod;
    float clip_min[3];
    float clip_max[3];
    uint32_t num_planes;
    float ao_radius;
    float planes[RVR_MAX_CLIP_PLANES][4];
    float point_scale;
    float point_filter_lo;
    float point_filter_hi;
    float point_cmap_lo;
    float point_cmap_hi;
    uint32_t reserved;
} rvr_render_settings;

/** Defaults: COMPOSITE, shading 0, flags 0, step 1, ert 0.99, iso 0.5,
 *  background (0,0,0,1), headlight, ambient 0.3, diffuse 0.7, specular 0.2,
 *  shininess 32, lod 1, clip box 0..1e30, no planes, ao_radius 0,
 *  point_scale 1, filter [-inf, inf] (as -FLT_MAX, FLT_MAX), cmap auto.
 *  Thread-safe. */
RVR_API void rvr_render_settings_init(rvr_render_settings *s);

/**
 * Counters of one rvr_render/rvr_render_slice call. 56 bytes.
 *   off  0  uint64_t samples        volume samples evaluated (skipped ones not counted)
 *   off  8  uint64_t rays           rays traced (image pixels / lod^2)
 *   off 16  double   total_ms       wall time of the call
 *   off 24  double   precompute_ms  part spent building S2/S3 volumes in this call
 *   off 32  uint32_t traced_width   ray grid actually traced (after lod)
 *   off 36  uint32_t traced_height
 *   off 40  uint64_t points_drawn   points that passed the filter and are in front of the camera
 *   off 48  uint32_t volume_level   1 = the volume's full form was drawn; f > 1 = its coarse
 *                                   copy (RVR_VOLUME_PROGRESSIVE, still converting)
 *   off 52  uint32_t reserved
 */
typedef struct rvr_render_stats {
    uint64_t samples;
    uint64_t rays;
    double total_ms;
    double precompute_ms;
    uint32_t traced_width;
    uint32_t traced_height;
    uint64_t points_drawn;
    uint32_t volume_level;
    uint32_t reserved;
} rvr_render_stats;

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Render the volume (unless RVR_F_HIDE_VOLUME or no volume is set) and the
 * points into a width x height RGBA8 image. Points are opaque spheres; each
 * ray stops at the nearest sphere it hits and the sphere's colour is put
 * behind what the ray accumulated (exact depth compositing).
 * Builds the S2 light volume / S3 occlusion volume on first use and caches
 * them until the volume, the TF or (S2) the light direction changes, or (S3)
 * ao_radius changes.
 * @param rgba        output, at least width*height*4 bytes (rgba_bytes).
 * @param stats       optional (NULL) counters.
 * @return RVR_OK; RVR_ERR_INVALID (NULL args, width/height 0 or > 32768, bad
 *         camera (eye == target, up parallel to view, fov out of range),
 *         unknown mode/flags, step/ert out of range, num_planes > 6, NaN
 *         settings); RVR_ERR_SIZE (rgba_bytes too small); RVR_ERR_NOMEM.
 * Multi-threaded (OpenMP). Not reentrant for one renderer.
 */
RVR_API int rvr_render(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s,
                       uint32_t width, uint32_t height, uint8_t *rgba, uint64_t rgba_bytes,
                       rvr_render_stats *stats);

/** A rectangle of an image: pixels [x, x + width) x [y, y + height), row 0 at the top. 16 bytes. */
typedef struct rvr_region {
    uint32_t x, y, width, height;
} rvr_region;

/**
 * rvr_render for a rectangle of the width x height image only: the pixels
 * inside `region` are exactly those rvr_render would give (same rays, same
 * samples, bit for bit), written into `rgba` - still the whole image,
 * rgba_bytes >= width*height*4 - at their places; pixels outside it are not
 * written. Rays outside it are not traced, and the CUDA backend copies only
 * the rectangle off the GPU (into page-locked, mapped memory - rvr_host_alloc,
 * rvr_host_register - the GPU writes the pixels directly, no copy at all,
 * as for rvr_render): a distributed rank renders just its slab's
 * footprint on the screen this way. With lod > 1 the ray cells that overlap
 * the region are traced and written only where they do. stats->rays counts
 * the ray cells traced (traced_width/height stay the whole grid's).
 * @return as rvr_render; RVR_ERR_INVALID also for a NULL, empty region or one
 *         that leaves the image.
 * Multi-threaded (OpenMP). Not reentrant for one renderer.
 */
RVR_API int rvr_render_region(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s,
                              uint32_t width, uint32_t height, const rvr_region *region, uint8_t *rgba,
                              uint64_t rgba_bytes, rvr_render_stats *stats);

/** Rows [y0, y1) of the image whose pixels are final (rvr_render_region_rows). */
typedef void (*rvr_rows_fn)(void *user, uint32_t y0, uint32_t y1);

/**
 * rvr_render_region that hands rows over while it still renders others:
 * `fn(user, y0, y1)` is called on the calling thread, before this returns,
 * for row ranges of the region whose pixels in `rgba` are final; together
 * they cover every row of the region once, in no particular order. The
 * pixels are those of rvr_render_region, bit for bit. A distributed rank
 * sends its finished rows on while its GPU renders the rest.
 * CUDA, with `rgba` page-locked and mapped (rvr_host_alloc or
 * rvr_host_register): the GPU writes pixels straight into rgba and rows are
 * reported as their 16 x lod-pixel tile rows complete (the calling thread
 * polls meanwhile). Otherwise (CPU backend, ordinary memory): one call for
 * the whole region after it is rendered. fn NULL: rvr_render_region. If the
 * render fails, rows not reported yet are not reported (their pixels are
 * unspecified).
 * @return as rvr_render_region.
 * Not reentrant for one renderer; fn must not call into this renderer.
 */
RVR_API int rvr_render_region_rows(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s,
                                   uint32_t width, uint32_t height, const rvr_region *region, uint8_t *rgba,
                                   uint64_t rgba_bytes, rvr_rows_fn fn, void *user, rvr_render_stats *stats);

/**
 * The pixels of a width x height image of `cam` that a world box [lo, hi]
 * can cover, as rvr_render casts its rays, plus `margin` pixels on every side,
 * clamped to the image: the region to rvr_render_region for a part of a
 * volume (a distributed rank's slab). An empty region (width 0) when the box
 * is off the image; the whole image when it is unbounded (a corner at or
 * behind the eye).
 * @return RVR_OK; RVR_ERR_INVALID (NULL args, width/height 0, bad camera).
 * Thread-safe.
 */
RVR_API int rvr_camera_box_region(const rvr_camera *cam, uint32_t width, uint32_t height, const double lo[3],
                                  const double hi[3], uint32_t margin, rvr_region *out);

/**
 * An image in front of the next frames: a nearer part of the same scene
 * drawn with the same camera and size, premultiplied, such as a distributed
 * rank's nearer neighbour's partial image. In COMPOSITE mode a ray behind an
 * occluder pixel of opacity a (its alpha byte, byte 3 of 4) stops once it and
 * the pixel together reach the frame's early ray termination opacity ert
 * (its own opacity 1 - (1 - ert) / (1 - a), a taken at the low end of the
 * byte's rounding): no sooner than one renderer tracing the whole ray would
 * stop, so composited behind that pixel it shows what that renderer shows
 * within the (1 - ert) its termination leaves out anyway. A ray behind a
 * pixel at ert or more (alpha byte >= ceil(255 * ert + 0.5)) is not traced
 * at all, points included: its pixel is written as one that met nothing.
 * ISO mode skips rays behind such pixels only. With lod > 1 a ray cell goes
 * by the least opaque of its pixels. Never with RVR_F_NO_ERT; frames of
 * another size, and the projection modes, ignore it.
 * Only pixels in `where` are read (NULL: the whole image); elsewhere it is
 * transparent. They are read while the frame renders, each once, and may be
 * written meanwhile (another renderer drawing them): a pixel still 0 is
 * traced behind as if transparent, so the caller clears `rgba` between
 * frames (no older frame's pixels). CUDA reads it in place: `rgba` must be
 * page-locked and mapped (rvr_host_alloc, rvr_host_register). It stays the
 * renderer's occluder until replaced; rgba NULL: none (the default). The
 * memory must outlive that.
 * @return RVR_OK; RVR_ERR_INVALID (r NULL; rgba set with width or height 0,
 *         bytes < width*height*4, `where` outside the image, or, on CUDA,
 *         memory the GPU cannot read).
 * Not reentrant for one renderer.
 */
RVR_API int rvr_renderer_set_occluder(rvr_renderer *r, const uint8_t *rgba, uint64_t bytes, uint32_t width,
                                      uint32_t height, const rvr_region *where);

/**
 * A planar slice, world coordinates. 36 bytes.
 *   off  0  float origin[3]  world point at the centre of the image
 *   off 12  float u[3]       world vector spanning the whole image width (left to right)
 *   off 24  float v[3]       world vector spanning the whole image height (top to bottom)
 * Pixel (i, j) samples origin + ((i+0.5)/W - 0.5) u + ((j+0.5)/H - 0.5) v.
 * u and v need not be orthogonal or axis-aligned (oblique slices).
 */
typedef struct rvr_slice {
    float origin[3];
    float u[3];
    float v[3];
} rvr_slice;

/**
 * Fill a slice that shows voxel layer `index` of logical axis `axis` with one
 * pixel per voxel centre; *width and *height receive the natural image size.
 *   axis 0 (z layer): image x = world x (axis 2), image y = world y (axis 1)
 *   axis 1 (y layer): image x = world x (axis 2), image y = world z (axis 0)
 *   axis 2 (x layer): image x = world y (axis 1), image y = world z (axis 0)
 * Image row 0 holds the lowest index of its axis. Rendered at the natural size
 * with RVR_F_NEAREST | RVR_F_GRAY this reproduces the normalized data exactly.
 * @return RVR_OK; RVR_ERR_INVALID (NULL args, axis not 0..2);
 *         RVR_ERR_NO_VOLUME; RVR_ERR_RANGE (index >= shape[axis]).
 */
RVR_API int rvr_renderer_slice_axis(const rvr_renderer *r, int32_t axis, uint64_t index,
                                    rvr_slice *out, uint32_t *width, uint32_t *height);

/**
 * Render a slice: each pixel samples the volume (trilinear, or nearest with
 * RVR_F_NEAREST) and shows the TF colour with its uncorrected alpha over the
 * background, or grey with RVR_F_GRAY. Positions outside the volume or
 * clipped away (box/planes) show the background. Uses settings.flags,
 * background, clip box and planes; ignores the rest.
 * @return as rvr_render, plus RVR_ERR_NO_VOLUME.
 */
RVR_API int rvr_render_slice(rvr_renderer *r, const rvr_slice *slice,
                             const rvr_render_settings *s, uint32_t width, uint32_t height,
                             uint8_t *rgba, uint64_t rgba_bytes, rvr_render_stats *stats);

/* ------------------------------------------------------------------------ */
/* Segmentation labels                                                      */
/* ------------------------------------------------------------------------ */

/**
 * Set (replace) the label volume drawn with the volume: one uint8 class per voxel, the
 * volume's logical shape and memory order (bytes = s0*s1*s2), copied. class_rgba holds
 * nclasses straight RGBA entries in [0, 1]; a class's alpha is its weight, 0 = not drawn
 * (classes >= nclasses are not drawn either). Drawing (nearest voxel of each sample):
 *   composite: each sample's colour is tinted toward its class colour,
 *              rgb' = (1 - alpha) rgb + alpha class_rgb; its opacity stays the TF's (labels
 *              colour what the TF shows; MIP/MinIP/average are not tinted);
 *   iso:       the surface colour is tinted the same way;
 *   slices:    outlines: a pixel whose class is drawn and differs from a neighbour pixel's
 *              (one pixel along u or v) or lies at the volume's edge shows the class colour,
 *              opaque; with RVR_F_LABEL_FILL every pixel is tinted by its class alpha.
 * The labels belong to the volume they were set for: after a volume of another shape or
 * order they are not drawn (set new ones, or remove them).
 * @param labels  NULL (with bytes 0) removes the labels (then class_rgba may be NULL).
 * Both backends draw them alike: the class of a sample is the nearest voxel's, computed with
 * the same arithmetic, and the tint is the same float arithmetic (CUDA: unfused), so labelled
 * images agree within the backends' usual tolerance, and slices with RVR_F_NEAREST are equal.
 * @return RVR_OK; RVR_ERR_INVALID (r NULL, nclasses 0 or > 256, NULL or out-of-range/NaN
 *         colours, NULL labels with bytes != 0); RVR_ERR_NO_VOLUME; RVR_ERR_SIZE (bytes
 *         mismatch); RVR_ERR_NOMEM (CUDA: also when the device has no room for them).
 *         Memory: one byte per voxel (CPU: host memory; CUDA: device memory only). On error
 *         the previous labels stay.
 */
RVR_API int rvr_renderer_set_labels(rvr_renderer *r, const uint8_t *labels, uint64_t bytes,
                                    const float *class_rgba, uint32_t nclasses);

/** New class colours for the labels set last (no new copy of the labels).
 *  @return RVR_OK; RVR_ERR_INVALID (as above); RVR_ERR_NO_VOLUME (no labels set). */
RVR_API int rvr_renderer_set_label_colors(rvr_renderer *r, const float *class_rgba,
                                          uint32_t nclasses);

/* Layout checks: the offsets above are part of the ABI used from Bun. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
#include <stddef.h>
_Static_assert(sizeof(rvr_volume_desc) == 64, "rvr_volume_desc layout");
_Static_assert(offsetof(rvr_volume_desc, window_lo) == 48, "rvr_volume_desc layout");
_Static_assert(sizeof(rvr_volume_info) == 80, "rvr_volume_info layout");
_Static_assert(sizeof(rvr_camera) == 48, "rvr_camera layout");
_Static_assert(sizeof(rvr_render_settings) == 224, "rvr_render_settings layout");
_Static_assert(offsetof(rvr_render_settings, planes) == 104, "rvr_render_settings layout");
_Static_assert(offsetof(rvr_render_settings, point_scale) == 200, "rvr_render_settings layout");
_Static_assert(sizeof(rvr_render_stats) == 56, "rvr_render_stats layout");
_Static_assert(sizeof(rvr_slice) == 36, "rvr_slice layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* RVR_H */
