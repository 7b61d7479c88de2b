/*
 * send_volume.c - how a C/C++ beamline program sends a volume to RemoteVis.
 *
 * What it does, in the order a real program would:
 *   1. get an instance: either the URL of a running one (--url), or ask the middleware to
 *      start one sized for the volume (POST /api/v1/instances, who we are proven with MUNGE
 *      or an API token);
 *   2. announce the volume to the instance (POST /api/prepare_volume): it checks the size and
 *      answers with a transfer id and its SSC-RDMA data port;
 *   3. send the bytes with libsscrdma: ssc_connect + ssc_send of a 128 KiB header (the
 *      instance secret and the transfer id) and the volume, straight from our memory;
 *   4. ask the instance for the result (POST /api/wait_transfer) and print it.
 * Open the printed URL in a browser to see the volume.
 *
 *   make -C examples/c
 *   examples/c/build/send_volume --url 'http://127.0.0.1:PORT/?token=SECRET'
 *   examples/c/build/send_volume --middleware http://127.0.0.1:8470 --shape 128,128,128
 *
 * Only POSIX sockets, libsscrdma (ffi/libsscrdma/include/ssc_rdma.h is its manual) and,
 * when built with -DHAVE_MUNGE, libmunge. The HTTP client and the JSON look-ups below are the
 * bare minimum for this protocol; a real program may prefer libcurl and a JSON library.
 * The REST API: docs/middleware.md; the instance protocol: docs/instance.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ssc_rdma.h"
#ifdef HAVE_MUNGE
#include <munge.h>
#endif

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("send_volume: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------------ */
/* A tiny HTTP/1.1 client: one request per connection (Connection: close).   */
/* ------------------------------------------------------------------------ */

typedef struct {
    char host[256];
    char port[8];
    char token[256]; /* ?token= of an instance URL, if any */
} http_url;

/* Splits "http://HOST:PORT/...?token=SECRET". Returns 0 on success. */
static int parse_url(const char *url, http_url *u)
{
    memset(u, 0, sizeof *u);
    if (strncmp(url, "http://", 7) != 0)
        return -1; /* https needs TLS: put a reverse proxy's plain-HTTP side here, or use libcurl */
    const char *p = url + 7, *end = p + strcspn(p, ":/?");
    if (end == p || (size_t)(end - p) >= sizeof u->host)
        return -1;
    memcpy(u->host, p, (size_t)(end - p));
    if (*end == ':') {
        size_t n = strspn(end + 1, "0123456789");
        if (n == 0 || n >= sizeof u->port)
            return -1;
        memcpy(u->port, end + 1, n);
    } else {
        strcpy(u->port, "80");
    }
    const char *t = strstr(url, "token=");
    if (t) {
        t += 6;
        size_t n = strcspn(t, "&#");
        if (n >= sizeof u->token)
            return -1;
        memcpy(u->token, t, n);
    }
    return 0;
}

typedef struct {
    int status;
    char *body; /* NUL-terminated, malloc'ed */
} http_reply;

/* Decodes a "Transfer-Encoding: chunked" body in place; returns its length. */
static size_t dechunk(char *body)
{
    char *in = body, *out = body;
    for (;;) {
        unsigned long n = strtoul(in, NULL, 16);
        char *eol = strstr(in, "\r\n");
        if (!eol || n == 0)
            break;
        memmove(out, eol + 2, n);
        out += n;
        in = eol + 2 + n + 2;
    }
    *out = '\0';
    return (size_t)(out - body);
}

/* method + path with an optional JSON body and Authorization header; exits on I/O errors. */
static http_reply http_request(const http_url *u, const char *method, const char *path,
                               const char *authorization, const char *json)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    int rc = getaddrinfo(u->host, u->port, &hints, &ai);
    if (rc != 0)
        die("cannot resolve %s: %s", u->host, gai_strerror(rc));
    int fd = -1;
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        die("cannot reach %s:%s: %s", u->host, u->port, strerror(errno));

    size_t body_len = json ? strlen(json) : 0;
    size_t cap = 1024 + body_len + (authorization ? strlen(authorization) : 0);
    char *req = malloc(cap);
    if (!req)
        die("out of memory");
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n"
                     "%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, u->host, u->port, authorization ? "Authorization: " : "",
                     authorization ? authorization : "", authorization ? "\r\n" : "", body_len,
                     json ? json : "");
    for (int off = 0; off < n;) {
        ssize_t w = write(fd, req + off, (size_t)(n - off));
        if (w <= 0)
            die("cannot send the request to %s:%s: %s", u->host, u->port, strerror(errno));
        off += (int)w;
    }
    free(req);

    size_t len = 0, size = 65536;
    char *buf = malloc(size);
    for (;;) {
        if (!buf)
            die("out of memory");
        if (len + 1 >= size)
            buf = realloc(buf, size *= 2);
        if (!buf)
            die("out of memory");
        ssize_t r = read(fd, buf + len, size - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("cannot read the answer of %s:%s: %s", u->host, u->port, strerror(errno));
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';

    http_reply reply = {0};
    char *head_end = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", &reply.status) != 1 || !head_end)
        die("%s:%s did not answer HTTP", u->host, u->port);
    *head_end = '\0';
    int chunked = strstr(buf, "chunked") != NULL; /* good enough for these servers */
    reply.body = strdup(head_end + 4);
    free(buf);
    if (!reply.body)
        die("out of memory");
    if (chunked)
        dechunk(reply.body);
    return reply;
}

/* ------------------------------------------------------------------------ */
/* JSON look-ups: the value of "key" in a flat answer (first occurrence).    */
/* ------------------------------------------------------------------------ */

static const char *json_find(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p ? p + strlen(pat) : NULL;
}

/* Copies the string value of key into out (simple escapes undone, \uXXXX as '?').
 * Returns 0 if found. */
static int json_string(const char *json, const char *key, char *out, size_t size)
{
    const char *p = json_find(json, key);
    if (!p || *p != '"')
        return -1;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = *++p;
            if (c == 'n')
                c = '\n';
            else if (c == 't')
                c = '\t';
            else if (c == 'u' && strlen(p) >= 5)
                c = '?', p += 4;
        }
        if (n + 1 >= size) {
            out[n] = '\0'; /* truncated */
            return -1;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return 0;
}

static int json_number(const char *json, const char *key, double *out)
{
    const char *p = json_find(json, key);
    char *end;
    if (!p)
        return -1;
    *out = strtod(p, &end);
    return end == p ? -1 : 0;
}

/* Exits with the server's {"error":{"code","message"}} when the status is not 2xx. */
static void check(const http_reply *r, const char *what)
{
    if (r->status >= 200 && r->status < 300)
        return;
    char code[64] = "?", message[1024] = "";
    json_string(r->body, "code", code, sizeof code);
    json_string(r->body, "message", message, sizeof message);
    die("%s: HTTP %d %s: %s", what, r->status, code, message[0] ? message : r->body);
}

/* ------------------------------------------------------------------------ */
/* The middleware: who we are, and a new instance.                           */
/* ------------------------------------------------------------------------ */

/* "Bearer <REMOTEVIS_TOKEN>" or "MUNGE <credential>" (one fresh credential per request). */
static char *authorization(void)
{
    const char *token = getenv("REMOTEVIS_TOKEN");
    char *out = NULL;
    if (token && *token) {
        size_t n = strlen(token) + 8;
        out = malloc(n);
        if (out)
            snprintf(out, n, "Bearer %s", token);
        return out;
    }
#ifdef HAVE_MUNGE
    char *cred = NULL;
    munge_err_t e = munge_encode(&cred, NULL, NULL, 0);
    if (e != EMUNGE_SUCCESS)
        die("munge: %s (is munged running? or set REMOTEVIS_TOKEN to an API token)", munge_strerror(e));
    size_t n = strlen(cred) + 7;
    out = malloc(n);
    if (out)
        snprintf(out, n, "MUNGE %s", cred);
    free(cred);
    return out;
#else
    die("built without libmunge: set REMOTEVIS_TOKEN to an API token (remotevis client token create)");
    return NULL;
#endif
}

/* Starts an instance for shape x float32; writes its URL and id. */
static void start_instance(const char *middleware, const int shape[3], char *url, size_t url_size,
                           char *id, size_t id_size)
{
    http_url mw;
    if (parse_url(middleware, &mw) != 0)
        die("not an http:// URL: %s", middleware);
    char body[256];
    snprintf(body, sizeof body, "{\"shape\":[%d,%d,%d],\"dtype\":\"float32\",\"name\":\"send_volume.c\"}",
             shape[0], shape[1], shape[2]);
    char *auth = authorization();
    http_reply r = http_request(&mw, "POST", "/api/v1/instances", auth, body);
    free(auth);
    check(&r, "start an instance");
    char state[32] = "";
    json_string(r.body, "state", state, sizeof state);
    if (strcmp(state, "running") != 0 || json_string(r.body, "url", url, url_size) != 0)
        die("the instance is %s, not running yet (slurm mode: poll GET /api/v1/instances/ID)", state);
    json_string(r.body, "id", id, id_size);
    free(r.body);
}

static void stop_instance(const char *middleware, const char *id)
{
    http_url mw;
    char path[128];
    parse_url(middleware, &mw);
    snprintf(path, sizeof path, "/api/v1/instances/%s", id);
    char *auth = authorization();
    http_reply r = http_request(&mw, "DELETE", path, auth, NULL);
    free(auth);
    check(&r, "stop the instance");
    printf("stopped instance %s\n", id);
    free(r.body);
}

/* ------------------------------------------------------------------------ */
/* The instance: announce, send over SSC-RDMA, wait for the result.          */
/* ------------------------------------------------------------------------ */

/* POST /api/OP with the instance's secret; exits on errors. */
static http_reply instance_op(const http_url *inst, const char *op, const char *json)
{
    char path[64], auth[300];
    snprintf(path, sizeof path, "/api/%s", op);
    snprintf(auth, sizeof auth, "Instance %s", inst->token);
    http_reply r = http_request(inst, "POST", path, auth, json);
    check(&r, op);
    return r;
}

/* The RemoteVis header: "RVH1", uint32 little-endian length, JSON; SSC_HEADER_SIZE bytes. */
static void make_header(uint8_t *header, const char *secret, const char *transfer, const char *part)
{
    char json[1024];
    int n = snprintf(json, sizeof json, "{\"secret\":\"%s\",\"transfer\":\"%s\",\"part\":\"%s\"}",
                     secret, transfer, part);
    memset(header, 0, SSC_HEADER_SIZE);
    memcpy(header, "RVH1", 4);
    for (int i = 0; i < 4; i++)
        header[4 + i] = (uint8_t)((uint32_t)n >> (8 * i)); /* little-endian */
    memcpy(header + 8, json, (size_t)n);
}

/* A synthetic float32 volume [z][y][x] (x fastest, order C): a ball in a soft gradient. */
static float *make_volume(const int s[3])
{
    float *v = malloc((size_t)s[0] * s[1] * s[2] * sizeof *v);
    if (!v)
        die("out of memory for a %dx%dx%d volume", s[0], s[1], s[2]);
    for (int z = 0; z < s[0]; z++)
        for (int y = 0; y < s[1]; y++)
            for (int x = 0; x < s[2]; x++) {
                double dz = (z + 0.5) / s[0] - 0.5, dy = (y + 0.5) / s[1] - 0.5, dx = (x + 0.5) / s[2] - 0.5;
                double r = sqrt(dx * dx + dy * dy + dz * dz);
                v[((size_t)z * s[1] + y) * s[2] + x] = (float)(r < 0.35 ? 1000.0 * (1.0 - r) : 100.0 * (x % 16 < 8));
            }
    return v;
}

static void usage(void)
{
    fputs("usage: send_volume (--url INSTANCE_URL | --middleware URL [--stop]) [--shape Z,Y,X]\n"
          "  --url URL          a running instance (the URL with ?token= the middleware gave)\n"
          "  --middleware URL   start an instance there (default $REMOTEVIS_MIDDLEWARE);\n"
          "                     identity: $REMOTEVIS_TOKEN, else MUNGE\n"
          "  --stop             stop the instance this program started when done\n"
          "  --shape Z,Y,X      volume size (default 64,64,64)\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *url_arg = NULL, *middleware = getenv("REMOTEVIS_MIDDLEWARE");
    int shape[3] = {64, 64, 64}, stop = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url_arg = argv[++i];
        else if (!strcmp(argv[i], "--middleware") && i + 1 < argc)
            middleware = argv[++i];
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d", &shape[0], &shape[1], &shape[2]) != 3 ||
                shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
                die("--shape must be Z,Y,X with whole numbers >= 1");
        } else if (!strcmp(argv[i], "--stop"))
            stop = 1;
        else
            usage();
    }
    if (!url_arg && !middleware)
        usage();

    /* 1. an instance */
    char url[1024], id[64] = "";
    if (url_arg) {
        snprintf(url, sizeof url, "%s", url_arg);
    } else {
        start_instance(middleware, shape, url, sizeof url, id, sizeof id);
        printf("started instance %s\n", id);
    }
    http_url inst;
    if (parse_url(url, &inst) != 0 || !inst.token[0])
        die("not an instance URL with ?token=: %s", url);
    printf("instance: %s\n", url);

    /* 2. announce the volume */
    uint64_t bytes = (uint64_t)shape[0] * shape[1] * shape[2] * sizeof(float);
    float *volume = make_volume(shape);
    char body[512];
    snprintf(body, sizeof body,
             "{\"bytes\":%llu,\"shape\":[%d,%d,%d],\"dtype\":\"float32\",\"order\":\"C\","
             "\"spacing\":[1,1,1],\"name\":\"synthetic ball\"}",
             (unsigned long long)bytes, shape[0], shape[1], shape[2]);
    http_reply prep = instance_op(&inst, "prepare_volume", body);
    char transfer[80], data_host[256];
    double data_port;
    if (json_string(prep.body, "transfer", transfer, sizeof transfer) ||
        json_string(prep.body, "host", data_host, sizeof data_host) ||
        json_number(prep.body, "dataPort", &data_port))
        die("unexpected prepare_volume answer: %s", prep.body);
    free(prep.body);

    /* 3. the bytes, over SSC-RDMA, straight from `volume` */
    ssc_context *ctx = NULL;
    ssc_conn *conn = NULL;
    uint8_t *header = malloc(SSC_HEADER_SIZE);
    if (!header)
        die("out of memory");
    make_header(header, inst.token, transfer, "volume");
    int rc = ssc_context_create(&ctx);
    if (rc == SSC_OK)
        rc = ssc_connect(ctx, data_host, (uint16_t)data_port, 10000, &conn);
    if (rc == SSC_OK)
        rc = ssc_send(conn, header, volume, bytes);
    ssc_conn_close(conn);
    ssc_context_destroy(ctx);
    free(header);
    free(volume);
    if (rc != SSC_OK)
        fprintf(stderr, "send_volume: sending to %s:%d failed: %s\n", data_host, (int)data_port, ssc_strerror(rc));
    else
        printf("sent %llu bytes to %s:%d\n", (unsigned long long)bytes, data_host, (int)data_port);

    /* 4. the instance's result (after a failed send: its reason, if it has one) */
    snprintf(body, sizeof body, "{\"transfer\":\"%s\"%s}", transfer, rc == SSC_OK ? "" : ",\"timeoutMs\":2000");
    http_reply done = instance_op(&inst, "wait_transfer", body);
    printf("instance answered: %s\n", done.body);
    free(done.body);
    if (rc != SSC_OK)
        return 1;

    if (id[0] && stop)
        stop_instance(middleware, id);
    else
        printf("open %s in a browser to see it\n", url);
    return 0;
}
