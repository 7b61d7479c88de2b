/*
 * fuzz_hdf5.c - libFuzzer target: the system libhdf5 (Debian libhdf5-103-1) on mutated
 * files, through the calls RemoteVis makes, in the order src/formats/hdf5.ts makes them:
 * H5Fopen of a file on disk (the sec2 driver, as in production), H5Lvisit of every hard
 * link, H5Oopen + describe of each dataset (space, type, native type, layout, chunks,
 * filters), then H5Dopen2 + a hyperslab H5Dread of every readable volume (at most
 * MAX_READ bytes) and the attributes readHdf5 looks at (spacing, element_size_um,
 * units, window).
 *
 * libhdf5 is loaded with dlopen like hdf5.ts does, so the target needs only the runtime
 * package; it is not instrumented (only this harness is), so a crash found here is a
 * SEGV or abort inside libhdf5. That is a fact about the library, not something we can
 * fix: what RemoteVis must guarantee is that such a crash stays in a child process and
 * becomes a clear error (tests/fuzz/hdf5-containment.test.ts).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int64_t hid_t;
typedef int herr_t;
typedef unsigned long long hsize_t;

#define MAX_READ (16u << 20)
#define MAX_NAMES 256

static struct {
    herr_t (*H5open)(void);
    herr_t (*H5Eset_auto2)(hid_t, void *, void *);
    hid_t (*H5Fopen)(const char *, unsigned, hid_t);
    herr_t (*H5Fclose)(hid_t);
    hid_t (*H5Dopen2)(hid_t, const char *, hid_t);
    herr_t (*H5Dclose)(hid_t);
    hid_t (*H5Dget_space)(hid_t);
    hid_t (*H5Dget_type)(hid_t);
    hid_t (*H5Dget_create_plist)(hid_t);
    herr_t (*H5Dread)(hid_t, hid_t, hid_t, hid_t, hid_t, void *);
    int (*H5Sget_simple_extent_ndims)(hid_t);
    int (*H5Sget_simple_extent_dims)(hid_t, hsize_t *, hsize_t *);
    int64_t (*H5Sget_simple_extent_npoints)(hid_t);
    hid_t (*H5Screate_simple)(int, const hsize_t *, const hsize_t *);
    herr_t (*H5Sselect_hyperslab)(hid_t, int, const hsize_t *, const hsize_t *, const hsize_t *, const hsize_t *);
    herr_t (*H5Sclose)(hid_t);
    int (*H5Tget_class)(hid_t);
    size_t (*H5Tget_size)(hid_t);
    int (*H5Tget_sign)(hid_t);
    hid_t (*H5Tget_native_type)(hid_t, int);
    int (*H5Tis_variable_str)(hid_t);
    herr_t (*H5Tclose)(hid_t);
    int (*H5Pget_layout)(hid_t);
    int (*H5Pget_chunk)(hid_t, int, hsize_t *);
    int (*H5Pget_nfilters)(hid_t);
    int (*H5Pget_filter2)(hid_t, unsigned, unsigned *, size_t *, unsigned *, size_t, char *, unsigned *);
    herr_t (*H5Pclose)(hid_t);
    int (*H5Lvisit)(hid_t, int, int, int (*)(hid_t, const char *, const void *, void *), void *);
    hid_t (*H5Oopen)(hid_t, const char *, hid_t);
    herr_t (*H5Oclose)(hid_t);
    int (*H5Iget_type)(hid_t);
    int (*H5Aexists)(hid_t, const char *);
    hid_t (*H5Aopen)(hid_t, const char *, hid_t);
    hid_t (*H5Aget_space)(hid_t);
    hid_t (*H5Aget_type)(hid_t);
    herr_t (*H5Aread)(hid_t, hid_t, void *);
    herr_t (*H5Aclose)(hid_t);
    herr_t (*H5free_memory)(void *);
} L;

/* the constants hdf5.ts uses */
enum { H5F_ACC_RDONLY = 0, H5T_INTEGER = 0, H5T_FLOAT = 1, H5T_STRING = 3, H5T_DIR_ASCEND = 1,
       H5I_DATASET = 5, H5D_CHUNKED = 2, H5S_SELECT_SET = 0, H5L_TYPE_HARD = 0 };
static const hid_t P_DEFAULT = 0;

static char path[64];

static void load(void)
{
    const char *names[] = {getenv("REMOTEVIS_HDF5_LIB"), "libhdf5_serial.so.103", "libhdf5.so.103",
                           "libhdf5_serial.so.200", "libhdf5.so.310", "libhdf5.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !h; i++)
        if (names[i])
            h = dlopen(names[i], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "fuzz_hdf5: libhdf5 not found (Debian libhdf5-103-1)\n");
        exit(2);
    }
#define SYM(name)                                                               \
    do {                                                                        \
        *(void **)&L.name = dlsym(h, #name);                                    \
        if (!L.name) {                                                          \
            fprintf(stderr, "fuzz_hdf5: libhdf5 lacks %s\n", #name);            \
            exit(2);                                                            \
        }                                                                       \
    } while (0)
    SYM(H5open); SYM(H5Eset_auto2); SYM(H5Fopen); SYM(H5Fclose); SYM(H5Dopen2); SYM(H5Dclose);
    SYM(H5Dget_space); SYM(H5Dget_type); SYM(H5Dget_create_plist); SYM(H5Dread);
    SYM(H5Sget_simple_extent_ndims); SYM(H5Sget_simple_extent_dims); SYM(H5Sget_simple_extent_npoints);
    SYM(H5Screate_simple); SYM(H5Sselect_hyperslab); SYM(H5Sclose); SYM(H5Tget_class); SYM(H5Tget_size);
    SYM(H5Tget_sign); SYM(H5Tget_native_type); SYM(H5Tis_variable_str); SYM(H5Tclose); SYM(H5Pget_layout);
    SYM(H5Pget_chunk); SYM(H5Pget_nfilters); SYM(H5Pget_filter2); SYM(H5Pclose); SYM(H5Lvisit);
    SYM(H5Oopen); SYM(H5Oclose); SYM(H5Iget_type); SYM(H5Aexists); SYM(H5Aopen); SYM(H5Aget_space);
    SYM(H5Aget_type); SYM(H5Aread); SYM(H5Aclose); SYM(H5free_memory);
#undef SYM
    L.H5open();
    L.H5Eset_auto2(0, NULL, NULL); /* hdf5.ts switches the error stacks off too */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load();
    /* tmpfs when there is one: a file per input, as production opens files by path */
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/fuzz_hdf5.%d.h5", dir, (int)getpid());
    return 0;
}

struct names {
    char *v[MAX_NAMES];
    int n;
};

static int visit(hid_t g, const char *name, const void *info, void *op)
{
    (void)g;
    struct names *ns = op;
    /* H5L_info2_t starts with the link type (int) */
    if (*(const int *)info == H5L_TYPE_HARD && ns->n < MAX_NAMES)
        ns->v[ns->n++] = strdup(name);
    return ns->n >= MAX_NAMES;
}

/* Dataset description as Hdf5File.describe does it. Returns the element size of a volume
 * type (u8..i32, f32, f64) or 0; the dims go to dims/rank. */
static size_t describe(hid_t dset, hsize_t *dims, int *rank)
{
    hid_t space = L.H5Dget_space(dset), type = L.H5Dget_type(dset), plist = L.H5Dget_create_plist(dset);
    size_t item = 0;
    *rank = space >= 0 ? L.H5Sget_simple_extent_ndims(space) : -1;
    if (*rank > 0 && *rank <= 32)
        L.H5Sget_simple_extent_dims(space, dims, NULL);
    else
        *rank = *rank == 0 ? 0 : -1;
    hid_t native = type >= 0 ? L.H5Tget_native_type(type, H5T_DIR_ASCEND) : -1;
    hid_t t = native >= 0 ? native : type;
    if (t >= 0) {
        int cls = L.H5Tget_class(t);
        size_t size = L.H5Tget_size(t);
        if (cls == H5T_INTEGER) {
            (void)L.H5Tget_sign(t);
            if (size == 1 || size == 2 || size == 4)
                item = size;
        } else if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
            item = size;
        }
    }
    if (native >= 0)
        L.H5Tclose(native);
    if (plist >= 0 && L.H5Pget_layout(plist) == H5D_CHUNKED && *rank > 0) {
        hsize_t chunk[32];
        (void)L.H5Pget_chunk(plist, *rank, chunk);
        int nf = L.H5Pget_nfilters(plist);
        for (int i = 0; i < nf && i < 32; i++) {
            unsigned flags, cfg;
            size_t nelm = 0;
            (void)L.H5Pget_filter2(plist, (unsigned)i, &flags, &nelm, NULL, 0, NULL, &cfg);
        }
    }
    if (plist >= 0)
        L.H5Pclose(plist);
    if (type >= 0)
        L.H5Tclose(type);
    if (space >= 0)
        L.H5Sclose(space);
    return item;
}

/* Hdf5Dataset.attribute: numbers (up to 64) or a string. */
static void attribute(hid_t dset, const char *name)
{
    if (L.H5Aexists(dset, name) <= 0)
        return;
    hid_t a = L.H5Aopen(dset, name, P_DEFAULT);
    if (a < 0)
        return;
    hid_t space = L.H5Aget_space(a), ftype = L.H5Aget_type(a);
    int64_t n = space >= 0 ? L.H5Sget_simple_extent_npoints(space) : -1;
    int cls = ftype >= 0 ? L.H5Tget_class(ftype) : -1;
    if (cls == H5T_STRING && n == 1) {
        if (L.H5Tis_variable_str(ftype) > 0) {
            char *s = NULL;
            if (L.H5Aread(a, ftype, &s) >= 0 && s) {
                (void)strnlen(s, 256);
                L.H5free_memory(s);
            }
        } else {
            size_t size = L.H5Tget_size(ftype);
            if (size <= 4096) {
                char *buf = calloc(1, size + 1);
                (void)L.H5Aread(a, ftype, buf);
                free(buf);
            }
        }
    } else if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && n >= 1 && n <= 64) {
        hid_t mtype = L.H5Tget_native_type(ftype, H5T_DIR_ASCEND);
        if (mtype >= 0) {
            size_t size = L.H5Tget_size(mtype);
            if (size <= 16) {
                unsigned char *buf = calloc((size_t)n, size ? size : 1);
                (void)L.H5Aread(a, mtype, buf);
                free(buf);
            }
            L.H5Tclose(mtype);
        }
    }
    if (ftype >= 0)
        L.H5Tclose(ftype);
    if (space >= 0)
        L.H5Sclose(space);
    L.H5Aclose(a);
}

/* Hdf5File.dataset + readHdf5: the whole dataset through a hyperslab of all planes. */
static void read_volume(hid_t fid, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "/%s", name);
    hid_t d = L.H5Dopen2(fid, p, P_DEFAULT);
    if (d < 0)
        return;
    hsize_t dims[32];
    int rank;
    size_t item = describe(d, dims, &rank);
    uint64_t bytes = item;
    for (int i = 0; i < rank && bytes; i++)
        bytes = dims[i] && dims[i] <= MAX_READ && bytes * dims[i] <= MAX_READ ? bytes * dims[i] : 0;
    if (item && rank > 0 && bytes) {
        hid_t ftype = L.H5Dget_type(d);
        hid_t mtype = ftype >= 0 ? L.H5Tget_native_type(ftype, H5T_DIR_ASCEND) : -1;
        hid_t fspace = L.H5Dget_space(d), mspace = L.H5Screate_simple(rank, dims, NULL);
        hsize_t start[32] = {0};
        void *buf = malloc(bytes);
        if (buf && mtype >= 0 && fspace >= 0 && mspace >= 0 &&
            L.H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, dims, NULL) >= 0)
            (void)L.H5Dread(d, mtype, mspace, fspace, P_DEFAULT, buf);
        free(buf);
        if (mspace >= 0)
            L.H5Sclose(mspace);
        if (fspace >= 0)
            L.H5Sclose(fspace);
        if (mtype >= 0)
            L.H5Tclose(mtype);
        if (ftype >= 0)
            L.H5Tclose(ftype);
        attribute(d, "spacing");
        attribute(d, "element_size_um");
        attribute(d, "units");
        attribute(d, "window");
    }
    L.H5Dclose(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    close(fd);

    hid_t fid = L.H5Fopen(path, H5F_ACC_RDONLY, P_DEFAULT);
    /* open or not, the name can go (smoke.sh removes the files of processes that crashed) */
    unlink(path);
    if (fid < 0)
        return 0;
    struct names ns = {.n = 0};
    (void)L.H5Lvisit(fid, 0 /* by name */, 0 /* increasing */, visit, &ns);
    for (int i = 0; i < ns.n; i++) {
        char p[4200];
        snprintf(p, sizeof p, "/%s", ns.v[i]);
        hid_t o = L.H5Oopen(fid, p, P_DEFAULT);
        if (o >= 0) {
            if (L.H5Iget_type(o) == H5I_DATASET) {
                hsize_t dims[32];
                int rank;
                if (describe(o, dims, &rank))
                    read_volume(fid, ns.v[i]);
            }
            L.H5Oclose(o);
        }
        free(ns.v[i]);
    }
    L.H5Fclose(fid);
    return 0;
}
