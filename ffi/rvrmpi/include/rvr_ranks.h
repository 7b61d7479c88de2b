/*
 * rvr_ranks.h - the control channel of rvr_ranks, librvr across several GPUs / nodes.
 *
 * THIS HEADER IS THE MANUAL of the program build/rvr_ranks and of its wire protocol.
 *
 * What it is
 * ----------
 * rvr_ranks is an MPI program (Debian openmpi) started with one rank per GPU (or per CPU
 * socket / node without GPUs):
 *   mpirun --bind-to none -n N rvr_ranks --socket PATH [--backend cpu|cuda|auto]
 *          [--composite auto|root|bswap|direct|stream] [--cuts follow|fixed] [--gpus K]
 *          [--op-timeout SECONDS]
 *   srun --mpi=pmix -n N rvr_ranks --socket PATH ...   (inside a slurm allocation)
 * (--bind-to none: Open MPI binds each of up to 2 ranks to one core by default; rvr_ranks
 * gives each rank (the node's cores - 2) / its ranks on the node as OpenMP threads, unless
 * OMP_NUM_THREADS is set: 2 cores stay for the instance and MPI.) With one rank,
 * the renderer's own image is the answer: nothing is composited or finished.
 * Rank 0 connects to the UNIX socket PATH (the instance listens there) and serves requests;
 * every rank owns one librvr renderer. Each rank renders its part of the volume into a
 * premultiplied RGBA image with a transparent background; the partial images are composited
 * in visibility order (sort-last) and the final image reaches rank 0, which answers with it.
 *
 * Decomposition
 * -------------
 * The volume is cut into slabs along its slowest memory axis (logical axis 0 for C order,
 * logical axis 2 for F order), at multiples of 16 layers (bricks of 16^3), so that every
 * rank's part is one contiguous byte range of the shared-memory file the volume arrived in.
 * The cuts balance a cost per 16-layer block: 8 per non-empty 16^3 brick + 1 per brick, a
 * brick being non-empty when its max exceeds data_min + 5% of the data range (a proxy of
 * "the transfer function shows something there" that does not depend on the TF, so a TF
 * change never moves data). Each rank holds its slab plus 2 ghost layers on each side
 * (trilinear samples and the S1 central differences of boundary samples stay inside), renders
 * only the samples of its own slab (clip box), in global world coordinates (the camera, clip
 * box, clip planes and points are translated by the slab's origin).
 * The cut a rank renders to follows the rendering cost (--cuts follow, the default, for
 * SET_VOLUME with 2+ ranks): each rank also holds a margin of an eighth of the thinnest slab
 * (whole bricks) beyond its inner cuts, and after every frame all ranks move each inner cut,
 * alike, half way toward equal render times on its two sides, within the margin (decomp.h,
 * rr_follow_cuts): what a view costs a slab changes with the view, the data stays put. Not with
 * points shown (they are dealt to slabs by the cuts) nor for SET_SYNTHETIC (sized to fill the
 * GPUs). The slabs of SET_VOLUME's answer and of RETRIEVE stay the data's. The normalization window
 * is the global one (auto = min..max of the whole volume, computed by rank 0's scan).
 * Points are distributed by position along the same axis (each point to the slab holding its
 * centre); the point colormap range, when automatic, is the global min..max of the values.
 *
 * Data paths (nothing is staged twice on one host)
 * ----------
 * SET_SYNTHETIC: every rank generates only its slab (+ghosts) of a synthetic scene, with
 * even cuts, into page-locked memory under CUDA: volumes larger than a host's /dev/shm or one
 * GPU, with no whole-volume buffer anywhere (benchmarks).
 * SET_VOLUME names a file (normally in /dev/shm) that holds the whole volume, as received by
 * the instance. A rank on the same host as rank 0 maps only its slab (+ghosts) of that file,
 * read-only, and librvr borrows the mapping (RVR_VOLUME_BORROW). A rank on another host
 * receives its slab from rank 0 with MPI (chunks of 256 MiB). RETRIEVE names an output file
 * of exactly the result's size: ranks on rank 0's host write their part straight into it,
 * others send it to rank 0, which writes it.
 *
 * Compositing (src/composite.c, src/stream.c)
 * -----------
 * A rank renders only its slab's footprint on the screen (rvr_render_region over the projected
 * box of the slab, within the clip box; the whole image when points are shown), so its partial
 * image is transparent outside it and outside the bounding rectangle of its non-zero pixels
 * (found by one pass over the footprint); the ranks allgather
 * these rectangles and move only parts of them, as RGBA8 premultiplied rows straight out of
 * the images (MPI vector types, no packing copy). Every rank knows every rectangle, so all
 * compute the same plan:
 * root:   every rank sends its rectangle to rank 0, which blends them around its own in
 *         visibility order (one round).
 * bswap:  binary swap over the largest power of two P <= N ranks (the first N - P odd ranks
 *         fold their rectangle into their even neighbour first): log2(P) rounds; partners
 *         halve their common region (the union rectangle at the start) along its longer side
 *         and exchange what their rectangles hold of the half each gives away; then every
 *         rank sends its composited rectangle to rank 0.
 * direct: the union rectangle is cut into N bands of rows; rank j composites band j from the
 *         parts of all rectangles in it (one all-to-all), then sends what its band holds.
 * stream: root while rendering. The image's rows are cut into bands of 32 (RR_STREAM_ROWS on
 *         rank 0); as the GPU finishes a band's rows (librvr's rvr_render_region_rows), a rank
 *         sends rank 0 a 16-byte note of its non-zero rectangle there, with the pixels only
 *         from another host: the partial images live in one MPI shared-memory window per host
 *         (MPI_Win_allocate_shared, page-locked for the GPU, which renders straight into it),
 *         so rank 0 reads a same-host rank's pixels in place. Rank 0 blends and finishes each
 *         band once its own rows and all notes of it are in, with its OpenMP team, while its
 *         GPU renders on; what is left after the slowest rank is one band's work.
 * auto:   with every rank on CUDA, stream when root is the plan the footprints favour (below);
 *         else per frame, the one whose busiest rank receives the fewest bytes, counting 64 KiB
 *         per message round (a dry run of each plan; 2 ranks side by side: root; many ranks
 *         looking along the slab axis: bswap or direct). rr_frame_stats.composite_bytes is
 *         the traffic of the frame (stream on one host: 0, only notes travel).
 * Rank 0 then writes the answer: background, TF colours of MIP values, straight alpha, from
 * the composited pieces (integer arithmetic, threads over rows), into the frame file when the
 * request names one (there only what differs from the file's last answer).
 * Composite/ISO/slices use "over" in slab visibility order; MIP/MinIP render grey values
 * (RVR_F_GRAY) and combine them with max/min; rank 0 applies the TF and the background.
 * AVERAGE is refused with several ranks (RR_ERR_UNSUPPORTED: the sample counts per ray are
 * not in the partial images).
 * Exactness: sample positions of a ray start where it enters the rank's sub-box, not the
 * whole volume, and partial images are 8-bit; images equal the single-rank image within a
 * few levels (tests/ranks_test.c states the tolerance). S2 shadows and S3 occlusion are
 * computed per slab (light blocked by another rank's slab is not seen).
 *
 * Occluders (RR_OCCLUDE=1 in the ranks' environment; off by default): in stream frames, ranks
 * on rank 0's host take the image of the rank in front as occluder (librvr's
 * rvr_renderer_set_occluder): rays behind its opaque pixels are not traced, rays behind partly
 * opaque ones stop where one renderer's early termination would; rank 0 clears every image of
 * its host band by band after finishing it (the next frame's occluders hold no older pixels),
 * and the ranks render from the side where the ranks behind look through (RVR_F_ROWS_UP).
 * 2048^3 on the H200 x2: 5% fewer samples and images nearer the one renderer's, but slower
 * (0.68-0.69x against 0.63-0.66x without): the rank behind reads the pixels over PCIe and
 * its frame times scatter more (bench/RESULTS.md).
 *
 * Diagnostics: RR_TRACE=1 in the ranks' environment prints one JSON line per rank and frame on
 * stderr, after the answer (its render time, time spent handing rows on, what was left after
 * it, its samples, whether it had an occluder, whether it rendered rows bottom up, and `at`:
 * when it had the request, set up the stream, started and ended rendering, ended the stream, in
 * ms of CLOCK_MONOTONIC, one clock for the ranks of a host: a frame's timeline across them).
 *
 * Failures
 * --------
 * MPI errors return (MPI_ERRORS_RETURN) and become RR_ERR_MPI answers. A rank that dies ends
 * the job (mpirun / srun --kill-on-bad-exit kill the others), so the instance sees the socket
 * close and reports it; rank 0 also has a watchdog: a request running longer than
 * --op-timeout seconds (default 120) is answered with RR_ERR_TIMEOUT and the job is aborted.
 * If the socket closes, all ranks exit.
 *
 * Wire protocol (little endian, host order; UNIX stream socket)
 * -------------
 * request: rr_req (16 bytes) + len payload bytes;  answer: rr_rep (16 bytes) + len bytes.
 * An answer with status < 0 carries a UTF-8 error message as payload. Payload layouts below
 * give byte offsets (packed, no padding).
 */
#ifndef RVR_RANKS_H
#define RVR_RANKS_H

#include <stdint.h>

#define RR_REQ_MAGIC 0x51525652u /* "RVRQ" */
#define RR_REP_MAGIC 0x41525652u /* "RVRA" */
#define RR_PATH_MAX 256

typedef struct rr_req {
    uint32_t magic;
    uint32_t op;
    uint64_t len;
} rr_req;

typedef struct rr_rep {
    uint32_t magic;
    int32_t status;
    uint64_t len;
} rr_rep;

/* Status codes besides librvr's RVR_ERR_* (which pass through). */
enum {
    RR_ERR_UNSUPPORTED = -3, /* = RVR_ERR_UNSUPPORTED */
    RR_ERR_MPI = -100,       /* an MPI call failed (a rank died, network) */
    RR_ERR_TIMEOUT = -101,   /* the watchdog fired: the request took longer than --op-timeout */
    RR_ERR_PROTO = -102,     /* malformed request */
    RR_ERR_IO = -103         /* cannot open / map / write a named file */
};

enum {
    /* -> 16 + 4*N: int32 ranks, int32 backend (RVR_BACKEND_*), int32 hosts, int32 composite
     *    (0 auto, 1 bswap, 2 direct, 3 root, 4 stream), then int32 pid[N] (rank order) */
    RR_OP_HELLO = 1,
    /* <- 64 rvr_volume_desc, 8 uint64 bytes, 256 char path[] (NUL-terminated)
     * -> 80 rvr_volume_info (global), 32 double ms[4] (scan, distribute, upload max, total),
     *    then uint64 bounds[N+1]: slab cuts in layers of the slab axis */
    RR_OP_SET_VOLUME = 2,
    /* <- 16: double lo, hi (lo == hi: automatic)  -> 80 rvr_volume_info */
    RR_OP_SET_WINDOW = 3,
    /* <- float rgba[4n] */
    RR_OP_SET_TF = 4,
    /* <- 8 uint64 n, float xyz[3n], float values[n] */
    RR_OP_SET_POINTS = 5,
    RR_OP_CLEAR_POINTS = 6,
    /* <- float rgba[4n] */
    RR_OP_SET_POINT_CMAP = 7,
    /* <- 48 rvr_camera, 224 rvr_render_settings, uint32 width, uint32 height (280 bytes)
     *    [, char frame_file[256]]
     * -> 64 rr_frame_stats, then width*height*4 RGBA; with a frame file (NUL-terminated path
     *    of a file of at least width*height*4 bytes, normally in /dev/shm, kept mapped by
     *    rank 0 while it stays the same file) the RGBA is written into it instead and the
     *    answer is the 64 bytes alone: the frame is written once, where the instance reads it.
     *    A frame file that cannot be mapped: RR_ERR_IO. */
    RR_OP_RENDER = 8,
    /* <- 36 rvr_slice, 224 rvr_render_settings, uint32 width, uint32 height (268 bytes)
     *    [, char frame_file[256]]  -> as RENDER */
    RR_OP_SLICE = 9,
    /* <- uint64 lo[3], uint64 hi[3], uint32 step[3], uint32 0, char path[256]
     *    (the file must exist with at least the result's size) -> 8 uint64 bytes written */
    RR_OP_RETRIEVE = 10,
    /* -> nothing; every rank exits */
    RR_OP_QUIT = 11,
    /* <- 64 rvr_volume_desc (float32, C order; window lo == hi: automatic), uint32 scene
     *    (RR_SYNTH_* of src/synthetic.h), uint32 0
     * -> as SET_VOLUME; ms[4] = generate + range scan (slowest rank), 0, upload max, total.
     * Every rank generates only its own slab (+ghosts): even cuts, nothing received. */
    RR_OP_SET_SYNTHETIC = 12
};

/** Answer header of RENDER / SLICE. 64 bytes. */
typedef struct rr_frame_stats {
    double total_ms;        /* the request at rank 0 */
    double render_ms_max;   /* slowest rank's rvr_render */
    double render_ms_min;   /* fastest rank's rvr_render */
    double composite_ms;    /* rank 0: its rectangle + exchange + compositing, from the moment
                               every rank has rendered (waiting for the slowest is not in it);
                               stream: from rank 0's own rendering to its last band */
    double gather_ms;       /* gather of the final pieces to rank 0 + finishing (rank 0); stream: 0 */
    uint64_t composite_bytes; /* bytes sent between ranks for this frame (all ranks) */
    uint64_t samples;       /* sum over ranks */
    uint64_t rays;          /* sum over ranks */
} rr_frame_stats;

#endif
