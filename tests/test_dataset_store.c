/* test_dataset_store.c - SHA-256 against the FIPS 180-4 / NIST vectors and
 * split updates; the dataset store: ids from the documented canonical
 * encoding, bit-exact save/load round trips, the documented file layout
 * (checked against an independent writer), idempotent atomic saves,
 * corruption and truncation caught, malformed ids rejected before any file
 * is touched, remove; files of the old format (version 1, y as bytes)
 * written by hand still load and keep their ids; and every error path of
 * dataset_from_json. Each
 * store test works in its own mkdtemp directory, removed afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "dataset_store.h"
#include "utf8.h"
#include "errors.h"
#include "sha256.h"

#define NOT_SET ((dataset *)(uintptr_t)0x1)
#define HEADER_LEN 64

/* ---- SHA-256 ------------------------------------------------------------ */

static void expect_digest(const void *msg, size_t len, const char *want_hex) {
    uint8_t digest[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    sha256(msg, len, digest);
    sha256_hex(digest, SHA256_DIGEST_LEN, hex);
    assert_string_equal(hex, want_hex);
}

static void test_sha256_fips_vectors(void **state) {
    (void)state;
    expect_digest("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_digest("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_digest(m448, strlen(m448),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
                       "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    expect_digest(m896, strlen(m896),
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256_million_a(void **state) {
    (void)state;
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *m = malloc(1000000);
    assert_non_null(m);
    memset(m, 'a', 1000000);
    expect_digest(m, 1000000, want);
    /* The same message in uneven pieces. */
    sha256_ctx c;
    uint8_t digest[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    sha256_init(&c);
    for (size_t done = 0, k = 1; done < 1000000; k = k * 7 % 1031 + 1) {
        size_t take = k < 1000000 - done ? k : 1000000 - done;
        sha256_update(&c, m + done, take);
        done += take;
    }
    sha256_final(&c, digest);
    sha256_hex(digest, SHA256_DIGEST_LEN, hex);
    assert_string_equal(hex, want);
    free(m);
}

/* Lengths around the padding boundaries (55/56 bytes: one or two final
 * blocks), digests from Python's hashlib. */
static void test_sha256_padding_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
    };
    char m[128];
    memset(m, 'a', sizeof m);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_digest(m, cases[i].len, cases[i].hex);
}

static void test_sha256_split_at_every_offset(void **state) {
    (void)state;
    const char *want = "44cae5223d431caed4a9e32271d6abf17c3f2f4abac45fcdb48a99fcc6072a09";
    uint8_t m[200], digest[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(i * 31 + 7);
    expect_digest(m, sizeof m, want);
    for (size_t a = 0; a <= sizeof m; a++) {
        for (size_t b = a; b <= sizeof m; b += 13) {
            sha256_ctx c;
            sha256_init(&c);
            sha256_update(&c, m, a);
            sha256_update(&c, m + a, b - a);
            sha256_update(&c, m + b, sizeof m - b);
            sha256_final(&c, digest);
            sha256_hex(digest, SHA256_DIGEST_LEN, hex);
            if (strcmp(hex, want) != 0) print_error("split at %zu, %zu\n", a, b);
            assert_string_equal(hex, want);
        }
    }
    sha256_hex(digest, 3, hex); /* a prefix */
    assert_string_equal(hex, "44cae5");
}

/* ---- Scratch directories and files --------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int make_dir(void **state) {
    char *dir = strdup("/tmp/test_dataset_store_XXXXXX");
    if (!dir || !mkdtemp(dir)) return -1;
    *state = dir;
    return 0;
}

static int remove_dir(void **state) {
    int rc = nftw(*state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return rc;
}

static void path_of(char *buf, size_t cap, const char *dir, const char *name) {
    assert_true((size_t)snprintf(buf, cap, "%s/%s", dir, name) < cap);
}

static void ds_path(char *buf, size_t cap, const char *dir, const char *id) {
    char name[64];
    snprintf(name, sizeof name, "%s.ds", id);
    path_of(buf, cap, dir, name);
}

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void write_whole(const char *path, const void *bytes, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static size_t count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t k = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        k += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return k;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- Datasets --------------------------------------------------------- */

static dataset *synthetic(size_t n, size_t d, uint64_t seed) {
    synth_params p = {.n = n, .d = d, .seed = seed, .theta_variance = 10.0};
    dataset *ds = NULL;
    assert_int_equal(dataset_synthesize(&p, &ds), MCMC_OK);
    return ds;
}

static dataset *from_csv(const char *text) {
    char err[256];
    dataset *ds = NULL;
    int rc = dataset_parse_csv(text, strlen(text), &ds, err, sizeof err);
    if (rc != MCMC_OK) print_error("csv: %s\n", err);
    assert_int_equal(rc, MCMC_OK);
    return ds;
}

static dataset *from_json(const char *text) {
    char err[256], name[64];
    dataset *ds = NOT_SET;
    int rc = dataset_from_json(text, strlen(text), &ds, name, sizeof name, err, sizeof err);
    if (rc != MCMC_OK) print_error("json: %s\n", err);
    assert_int_equal(rc, MCMC_OK);
    assert_true(ds != NOT_SET && ds != NULL);
    return ds;
}

static dataset *copy_of(const dataset *src) {
    dataset *ds = dataset_alloc(src->n, src->d);
    assert_non_null(ds);
    memcpy(ds->X, src->X, src->n * src->d * sizeof *ds->X);
    memcpy(ds->y, src->y, src->n * sizeof *ds->y);
    if (src->names)
        assert_int_equal(dataset_set_names(ds, (const char *const *)src->names, NULL, 0), 0);
    if (src->theta_true) {
        ds->theta_true = malloc(src->d * sizeof(double));
        assert_non_null(ds->theta_true);
        memcpy(ds->theta_true, src->theta_true, src->d * sizeof(double));
    }
    return ds;
}

static void expect_same_bits(const dataset *a, const dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->X, b->X, a->n * a->d * sizeof(double));
    assert_memory_equal(a->y, b->y, a->n * sizeof *a->y);
    assert_int_equal(a->theta_true != NULL, b->theta_true != NULL);
    assert_int_equal(a->names != NULL, b->names != NULL);
    for (size_t j = 0; a->names && j < a->d; j++)
        assert_string_equal(a->names[j], b->names[j]);
    if (a->theta_true) assert_memory_equal(a->theta_true, b->theta_true, a->d * sizeof(double));
}

static void id_of(const dataset *ds, char id[DATASET_ID_LEN + 1]) {
    assert_int_equal(dataset_hash(ds, id), MCMC_OK);
    assert_true(dataset_id_valid(id));
}

/* ---- An independent encoder, written from the header comment ------------- */

static void le64(uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(x >> (8 * i));
}

static uint8_t *append_doubles(uint8_t *p, const double *x, size_t k) {
    for (size_t i = 0; i < k; i++, p += 8) {
        uint64_t u;
        double v = x[i] == 0 ? 0.0 : x[i];
        memcpy(&u, &v, 8);
        le64(p, u);
    }
    return p;
}

static uint8_t *append_names(uint8_t *p, const dataset *ds, int terminated) {
    for (size_t j = 0; j < ds->d; j++) {
        size_t k = strlen(ds->names[j]);
        if (!terminated) le64(p, k), p += 8;
        memcpy(p, ds->names[j], k + (size_t)terminated);
        p += k + (size_t)terminated;
    }
    return p;
}

static size_t names_bytes(const dataset *ds) {
    size_t k = 0;
    for (size_t j = 0; ds->names && j < ds->d; j++)
        k += strlen(ds->names[j]) + 1;
    return k;
}

/* Version 1 when every y is 0 or 1 and there are no names. */
static int binary_without_names(const dataset *ds) {
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] != 0 && ds->y[i] != 1) return 0;
    return ds->names == NULL;
}

/* The documented canonical encoding, version 1 (y as bytes) or 2; *len
 * gets its length. */
static uint8_t *canonical(const dataset *ds, int version, size_t *len) {
    size_t th = ds->theta_true ? ds->d : 0;
    uint8_t *b = malloc(26 + 8 * ds->n * ds->d + 8 * ds->n + 8 * th + 8 * ds->d + names_bytes(ds));
    uint8_t *p = b;
    assert_non_null(b);
    memcpy(p, version == 1 ? "MCMCID01" : "MCMCID02", 8);
    le64(p + 8, ds->n);
    le64(p + 16, ds->d);
    p = append_doubles(p + 24, ds->X, ds->n * ds->d);
    if (version == 1)
        for (size_t i = 0; i < ds->n; i++)
            *p++ = (uint8_t)ds->y[i];
    else
        p = append_doubles(p, ds->y, ds->n);
    *p++ = ds->theta_true != NULL;
    p = append_doubles(p, ds->theta_true, th);
    if (version == 2) *p++ = ds->names != NULL;
    if (version == 2 && ds->names) p = append_names(p, ds, 0);
    *len = (size_t)(p - b);
    return b;
}

/* The id of the documented encoding: version 1 for 0/1 labels without
 * names, else version 2. */
static void documented_digest(const dataset *ds, int version, uint8_t *digest,
                              char id[DATASET_ID_LEN + 1]) {
    size_t clen;
    uint8_t *c = canonical(ds, version, &clen);
    sha256(c, clen, digest);
    sha256_hex(digest, DATASET_ID_LEN / 2, id);
    free(c);
}

/* A file of the old format (version 1: y as bytes, no names), written from
 * the documentation, with a valid checksum even for invalid contents. */
static uint8_t *file_image_v1(const dataset *ds, size_t *len, char id[DATASET_ID_LEN + 1]) {
    size_t th = ds->theta_true ? ds->d : 0;
    uint8_t digest[SHA256_DIGEST_LEN];
    documented_digest(ds, 1, digest, id);
    *len = HEADER_LEN + 8 * ds->n * ds->d + ds->n + 8 * th;
    uint8_t *f = calloc(1, *len), *p = f + HEADER_LEN;
    assert_non_null(f);
    memcpy(f, "MCMCDS01", 8);
    f[8] = 1;
    f[12] = ds->theta_true != NULL;
    le64(f + 16, ds->n);
    le64(f + 24, ds->d);
    memcpy(f + 32, digest, sizeof digest);
    p = append_doubles(p, ds->X, ds->n * ds->d);
    for (size_t i = 0; i < ds->n; i++)
        *p++ = (uint8_t)ds->y[i];
    append_doubles(p, ds->theta_true, th);
    return f;
}

/* The documented file of the current format (version 2). */
static uint8_t *file_image(const dataset *ds, size_t *len, char id[DATASET_ID_LEN + 1]) {
    size_t th = ds->theta_true ? ds->d : 0, nb = names_bytes(ds);
    uint8_t digest[SHA256_DIGEST_LEN];
    documented_digest(ds, binary_without_names(ds) ? 1 : 2, digest, id);
    *len = HEADER_LEN + 8 * ds->n * ds->d + 8 * ds->n + 8 * th + (ds->names ? 8 + nb : 0);
    uint8_t *f = calloc(1, *len), *p = f + HEADER_LEN;
    assert_non_null(f);
    memcpy(f, "MCMCDS01", 8);
    f[8] = 2;
    f[12] = (uint8_t)((ds->theta_true != NULL) | (ds->names != NULL) << 1);
    le64(f + 16, ds->n);
    le64(f + 24, ds->d);
    memcpy(f + 32, digest, sizeof digest);
    p = append_doubles(p, ds->X, ds->n * ds->d);
    p = append_doubles(p, ds->y, ds->n);
    p = append_doubles(p, ds->theta_true, th);
    if (ds->names) {
        le64(p, nb);
        append_names(p + 8, ds, 1);
    }
    return f;
}

/* ---- Save and load ---------------------------------------------------- */

static void save_ok(const char *dir, const dataset *ds, char id[DATASET_ID_LEN + 1]) {
    uint64_t bytes = 0;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_OK);
    char path[512];
    struct stat st;
    ds_path(path, sizeof path, dir, id);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(bytes, (uint64_t)st.st_size);
}

static dataset *load_ok(const char *dir, const char *id) {
    char err[256] = "";
    dataset *ds = NOT_SET;
    int rc = dataset_store_load(dir, id, &ds, err, sizeof err);
    if (rc != MCMC_OK) print_error("load: %s\n", err);
    assert_int_equal(rc, MCMC_OK);
    assert_true(ds != NOT_SET && ds != NULL);
    return ds;
}

/* Loads id expecting failure rc with want in the message. */
static void load_fails(const char *dir, const char *id, int rc, const char *want) {
    char err[256] = "";
    dataset *ds = NOT_SET;
    int got = dataset_store_load(dir, id, &ds, err, sizeof err);
    if (got != rc || !strstr(err, want))
        print_error("load: rc %d, message \"%s\"; want %d, \"%s\"\n", got, err, rc, want);
    assert_int_equal(got, rc);
    assert_non_null(strstr(err, want));
    assert_null(ds);
}

static void test_round_trip_synthetic(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(3001, 7, 42), *back;
    char id[DATASET_ID_LEN + 1], hashed[DATASET_ID_LEN + 1];
    uint64_t bytes;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_OK);
    assert_int_equal(bytes, HEADER_LEN + 3001 * 7 * 8 + 3001 * 8 + 7 * 8);
    id_of(ds, hashed);
    assert_string_equal(id, hashed);
    back = load_ok(dir, id);
    assert_non_null(back->theta_true);
    expect_same_bits(ds, back);
    dataset_free(back);
    dataset_free(ds);
}

static const char *odd_csv = "x1,x2,x3,y\n"
                             "1e-300,-2.5,3,0\n"
                             "1.7976931348623157e308,5e-324,-0.1,1\n"
                             "0.30000000000000004,-1e308,123456789.123456789,1\n";

static void test_round_trip_csv(void **state) {
    const char *dir = *state;
    dataset *ds = from_csv(odd_csv);
    char id[DATASET_ID_LEN + 1];
    save_ok(dir, ds, id);
    dataset *back = load_ok(dir, id);
    assert_null(back->theta_true);
    expect_same_bits(ds, back);
    dataset_free(back);
    dataset_free(ds);
}

/* The file matches the documented layout byte for byte, and a file built
 * from the documentation alone loads: with 0/1 labels, and with real y and
 * column names. */
static void test_file_layout(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(5, 3, 7);
    char id[DATASET_ID_LEN + 1], want_id[DATASET_ID_LEN + 1], path[512];
    size_t want_len, got_len;
    for (int named = 0; named < 2; named++) {
        if (named) {
            const char *names[] = {"age", "income \xc3\xa9", "x.3"};
            assert_int_equal(dataset_set_names(ds, names, NULL, 0), MCMC_OK);
            ds->y[2] = -2.75;
        }
        uint8_t *want = file_image(ds, &want_len, want_id);
        save_ok(dir, ds, id);
        assert_string_equal(id, want_id);
        ds_path(path, sizeof path, dir, id);
        uint8_t *got = read_whole(path, &got_len);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        dataset *back = load_ok(dir, id);
        expect_same_bits(ds, back);
        dataset_free(back);
        free(got);
        free(want);
    }

    dataset *csv = from_csv(odd_csv);
    uint8_t *want = file_image(csv, &want_len, want_id);
    ds_path(path, sizeof path, dir, want_id);
    write_whole(path, want, want_len);
    dataset *back = load_ok(dir, want_id);
    expect_same_bits(csv, back);
    free(want);
    dataset_free(back);
    dataset_free(csv);
    dataset_free(ds);
}

/* A file of the old format (version 1, y as bytes), written by hand as
 * daemons before real y wrote it, loads under its id; saving the same
 * rows again gives the same id and replaces it with a version 2 file. */
static void test_old_format_loads(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(40, 3, 17);
    char old_id[DATASET_ID_LEN + 1], id[DATASET_ID_LEN + 1], path[512];
    size_t len, got_len;
    uint8_t *image = file_image_v1(ds, &len, old_id);
    ds_path(path, sizeof path, dir, old_id);
    write_whole(path, image, len);
    dataset *back = load_ok(dir, old_id);
    expect_same_bits(ds, back);
    assert_true(back->y[0] == 0 || back->y[0] == 1);
    save_ok(dir, back, id);
    assert_string_equal(id, old_id);
    uint8_t *now = read_whole(path, &got_len);
    assert_int_equal(got_len, len + 7 * 40); /* y as float64 */
    assert_int_equal(now[8], 2);
    assert_int_equal(count_entries(dir), 1);
    dataset_free(back);
    back = load_ok(dir, id);
    expect_same_bits(ds, back);
    free(now);
    free(image);
    dataset_free(back);
    dataset_free(ds);
}

static void expect_new_id(dataset *ds, const char *base) {
    char id[DATASET_ID_LEN + 1];
    id_of(ds, id);
    assert_string_not_equal(id, base);
}

static void test_ids_follow_content(void **state) {
    (void)state;
    dataset *ds = synthetic(4, 3, 9), *twin = copy_of(ds);
    char base[DATASET_ID_LEN + 1], id[DATASET_ID_LEN + 1];
    id_of(ds, base);
    id_of(twin, id);
    assert_string_equal(id, base);
    for (size_t i = 0; i < ds->n * ds->d; i++) {
        double keep = ds->X[i];
        ds->X[i] = nextafter(keep, INFINITY);
        expect_new_id(ds, base);
        ds->X[i] = keep;
    }
    for (size_t i = 0; i < ds->n; i++) {
        ds->y[i] = 1 - ds->y[i];
        expect_new_id(ds, base);
        ds->y[i] = 1 - ds->y[i];
    }
    ds->y[1] += 0.5; /* a real y (the version 2 encoding) */
    expect_new_id(ds, base);
    ds->y[1] -= 0.5;
    const char *names[] = {"a", "b", "c"}, *other[] = {"a", "b", "d"};
    char named[DATASET_ID_LEN + 1];
    assert_int_equal(dataset_set_names(ds, names, NULL, 0), MCMC_OK);
    expect_new_id(ds, base);
    id_of(ds, named);
    assert_int_equal(dataset_set_names(ds, other, NULL, 0), MCMC_OK);
    expect_new_id(ds, named);
    for (size_t j = 0; j < ds->d; j++)
        free(ds->names[j]);
    free(ds->names);
    ds->names = NULL;
    id_of(ds, id);
    assert_string_equal(id, base);
    for (size_t j = 0; j < ds->d; j++) {
        double keep = ds->theta_true[j];
        ds->theta_true[j] = nextafter(keep, -INFINITY);
        expect_new_id(ds, base);
        ds->theta_true[j] = keep;
    }
    free(ds->theta_true); /* the same rows without theta_true */
    ds->theta_true = NULL;
    expect_new_id(ds, base);
    id_of(ds, base);
    ds->n = 3; /* fewer rows */
    expect_new_id(ds, base);
    ds->n = 2, ds->d = 6; /* the same numbers in another shape */
    expect_new_id(ds, base);
    ds->n = 4, ds->d = 3;
    /* -0.0 and +0.0 are the same value and give the same id. */
    ds->X[0] = 0.0;
    id_of(ds, base);
    ds->X[0] = -0.0;
    id_of(ds, id);
    assert_string_equal(id, base);
    dataset_free(twin);
    dataset_free(ds);
}

static void test_json_and_csv_same_id(void **state) {
    const char *dir = *state;
    dataset *csv = from_csv("a,b,y\n1,2.5,0\n-3,4e-3,1\n-0,0.1,1\n");
    dataset *json =
        from_json("{\"X\": [[1, 2.5], [-3.0, 0.004], [-0, 1e-1]],"
                  " \"y\": [0, true, 1.0], \"name\": \"same\", \"names\": [\"a\", \"b\"]}");
    char a[DATASET_ID_LEN + 1], b[DATASET_ID_LEN + 1];
    id_of(csv, a);
    id_of(json, b);
    assert_string_equal(a, b);
    save_ok(dir, csv, a);
    save_ok(dir, json, b);
    assert_string_equal(a, b);
    assert_int_equal(count_entries(dir), 1);
    dataset_free(csv);
    dataset_free(json);
    /* Without a header and without names: the same id again, another one. */
    csv = from_csv("1,2.5,0\n-3,4e-3,1\n-0,0.1,1\n");
    json = from_json("{\"X\": [[1, 2.5], [-3.0, 0.004], [-0, 1e-1]], \"y\": [0, 1, 1]}");
    id_of(csv, a);
    id_of(json, b);
    assert_string_equal(a, b);
    save_ok(dir, csv, a);
    assert_int_equal(count_entries(dir), 2);
    dataset_free(csv);
    dataset_free(json);
}

static void test_save_twice_writes_once(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(50, 2, 1);
    char id[DATASET_ID_LEN + 1], again[DATASET_ID_LEN + 1], path[512];
    struct stat first, second;
    save_ok(dir, ds, id);
    ds_path(path, sizeof path, dir, id);
    assert_int_equal(stat(path, &first), 0);
    save_ok(dir, ds, again);
    assert_string_equal(id, again);
    assert_int_equal(stat(path, &second), 0);
    assert_int_equal(first.st_ino, second.st_ino); /* not replaced */
    assert_int_equal(count_entries(dir), 1);       /* and no temporary left */
    dataset_free(ds);
}

/* A file of the wrong length under the id is replaced by a good one. */
static void test_save_repairs_short_file(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(50, 2, 2);
    char id[DATASET_ID_LEN + 1], path[512];
    save_ok(dir, ds, id);
    ds_path(path, sizeof path, dir, id);
    assert_int_equal(truncate(path, 100), 0);
    load_fails(dir, id, MCMC_EPARSE, "truncated");
    save_ok(dir, ds, id);
    dataset *back = load_ok(dir, id);
    expect_same_bits(ds, back);
    assert_int_equal(count_entries(dir), 1);
    dataset_free(back);
    dataset_free(ds);
}

static void test_save_rejects_invalid(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(10, 2, 3);
    char id[DATASET_ID_LEN + 1];
    uint64_t bytes;
    ds->y[4] = NAN;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    ds->y[4] = INFINITY;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    ds->y[4] = 1;
    ds->X[7] = NAN;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    ds->X[7] = INFINITY;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    ds->X[7] = 1;
    ds->theta_true[1] = NAN;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    ds->theta_true[1] = 1;
    ds->n = 0;
    assert_int_equal(dataset_store_save(dir, ds, id, &bytes), MCMC_EINVAL);
    assert_int_equal(dataset_hash(ds, id), MCMC_EINVAL);
    ds->n = 10;
    assert_int_equal(count_entries(dir), 0);

    char missing[512];
    path_of(missing, sizeof missing, dir, "no/such/dir");
    errno = 0;
    assert_int_equal(dataset_store_save(missing, ds, id, NULL), MCMC_EIO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(count_entries(dir), 0);
    dataset_free(ds);
}

/* Saves a dataset and returns its file's bytes for tampering. */
static uint8_t *saved_image(const char *dir, const dataset *ds, char *id, char *path, size_t *len) {
    save_ok(dir, ds, id);
    ds_path(path, 512, dir, id);
    return read_whole(path, len);
}

static void expect_corruption_caught(const char *dir, const char *id, const char *path,
                                     const uint8_t *image, size_t len, size_t at, uint8_t flip,
                                     const char *want) {
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    memcpy(bad, image, len);
    bad[at] ^= flip;
    write_whole(path, bad, len);
    load_fails(dir, id, MCMC_EPARSE, want);
    free(bad);
}

static void test_corruption_is_caught(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(20, 3, 4);
    char id[DATASET_ID_LEN + 1], path[512];
    size_t len, x = HEADER_LEN, y = HEADER_LEN + 20 * 3 * 8;
    uint8_t *image = saved_image(dir, ds, id, path, &len);
    size_t th = len - 3 * 8;                /* theta_true */
    for (size_t at = x; at < len; at += 37) /* every region, many bytes */
        expect_corruption_caught(dir, id, path, image, len, at, 0x01, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, x + 5, 0x80, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, y + 3, 0x01, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, th + 7, 0x40, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, 32, 0x01, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, 63, 0x10, "checksum mismatch");
    expect_corruption_caught(dir, id, path, image, len, 0, 0x01, "bad magic");
    expect_corruption_caught(dir, id, path, image, len, 8, 0x01, "unsupported format version 3");
    expect_corruption_caught(dir, id, path, image, len, 8, 0x02, "unsupported format version 0");
    expect_corruption_caught(dir, id, path, image, len, 12, 0x02, "truncated or corrupt");
    expect_corruption_caught(dir, id, path, image, len, 12, 0x04, "unknown flags 0x5");
    expect_corruption_caught(dir, id, path, image, len, 12, 0x01, "truncated or corrupt");
    expect_corruption_caught(dir, id, path, image, len, 16, 0x01, "truncated or corrupt");
    expect_corruption_caught(dir, id, path, image, len, 31, 0x80, "truncated or corrupt");
    write_whole(path, image, len); /* intact again */
    dataset *back = load_ok(dir, id);
    expect_same_bits(ds, back);
    dataset_free(back);
    free(image);
    dataset_free(ds);
}

static void test_truncation_is_caught(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(20, 3, 5);
    char id[DATASET_ID_LEN + 1], path[512];
    size_t len;
    uint8_t *image = saved_image(dir, ds, id, path, &len);
    size_t cuts[] = {0, 1, 8, 63, 64, 65, 200, len - 25, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        write_whole(path, image, cuts[i]);
        load_fails(dir, id, MCMC_EPARSE, "truncated");
    }
    uint8_t *longer = calloc(1, len + 1);
    assert_non_null(longer);
    memcpy(longer, image, len);
    write_whole(path, longer, len + 1); /* a trailing byte is corruption too */
    load_fails(dir, id, MCMC_EPARSE, "truncated or corrupt");
    free(longer);
    free(image);
    dataset_free(ds);
}

/* A valid file under another dataset's name is caught by the id check. */
static void test_file_under_wrong_id(void **state) {
    const char *dir = *state;
    dataset *a = synthetic(10, 2, 6), *b = synthetic(10, 2, 7);
    char ida[DATASET_ID_LEN + 1], idb[DATASET_ID_LEN + 1], pa[512], pb[512];
    save_ok(dir, a, ida);
    id_of(b, idb);
    ds_path(pa, sizeof pa, dir, ida);
    ds_path(pb, sizeof pb, dir, idb);
    assert_int_equal(rename(pa, pb), 0);
    load_fails(dir, idb, MCMC_EPARSE, "holds dataset");
    char err[256];
    dataset *out = NOT_SET;
    dataset_store_load(dir, idb, &out, err, sizeof err);
    assert_non_null(strstr(err, ida));
    assert_null(out);
    dataset_free(a);
    dataset_free(b);
}

/* Files with a good checksum but contents the store never writes. */
static void test_invalid_contents_are_caught(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(6, 2, 8);
    char id[DATASET_ID_LEN + 1], path[512];
    size_t len;
    ds->y[4] = 2; /* the old format took only labels */
    uint8_t *image = file_image_v1(ds, &len, id);
    ds_path(path, sizeof path, dir, id);
    write_whole(path, image, len);
    load_fails(dir, id, MCMC_EPARSE, "y[4] is 2, not 0 or 1");
    free(image);
    image = file_image(ds, &len, id); /* the new one takes any finite y */
    ds_path(path, sizeof path, dir, id);
    write_whole(path, image, len);
    dataset *back = load_ok(dir, id);
    assert_true(back->y[4] == 2);
    dataset_free(back);
    free(image);
    ds->y[4] = NAN;
    image = file_image(ds, &len, id);
    ds_path(path, sizeof path, dir, id);
    write_whole(path, image, len);
    load_fails(dir, id, MCMC_EPARSE, "y[4] is not finite");
    free(image);
    ds->y[4] = 1;
    ds->X[3] = INFINITY;
    image = file_image(ds, &len, id);
    ds_path(path, sizeof path, dir, id);
    write_whole(path, image, len);
    load_fails(dir, id, MCMC_EPARSE, "X[1][1] is not finite");
    free(image);
    ds->X[3] = 0;
    ds->theta_true[1] = NAN;
    image = file_image(ds, &len, id);
    ds_path(path, sizeof path, dir, id);
    write_whole(path, image, len);
    load_fails(dir, id, MCMC_EPARSE, "theta_true[1] is not finite");
    free(image);
    dataset_free(ds);
}

static void test_missing_dataset(void **state) {
    const char *dir = *state;
    const char *id = "0123456789abcdef0123456789abcdef";
    load_fails(dir, id, DATASET_STORE_ENOENT, "not found");
    assert_int_equal(dataset_store_remove(dir, id), DATASET_STORE_ENOENT);
    char path[512];
    ds_path(path, sizeof path, dir, id);
    assert_int_equal(mkdir(path, 0700), 0); /* something that is not a file */
    load_fails(dir, id, MCMC_EIO, id);
}

static void test_remove(void **state) {
    const char *dir = *state;
    dataset *ds = synthetic(10, 2, 9), *other = synthetic(10, 2, 10);
    char id[DATASET_ID_LEN + 1], keep[DATASET_ID_LEN + 1], path[512];
    save_ok(dir, ds, id);
    save_ok(dir, other, keep);
    assert_int_equal(dataset_store_remove(dir, id), MCMC_OK);
    ds_path(path, sizeof path, dir, id);
    assert_false(file_exists(path));
    load_fails(dir, id, DATASET_STORE_ENOENT, "not found");
    assert_int_equal(dataset_store_remove(dir, id), DATASET_STORE_ENOENT);
    dataset *back = load_ok(dir, keep);
    expect_same_bits(other, back);
    dataset_free(back);
    save_ok(dir, ds, id); /* saved again after removal */
    assert_int_equal(count_entries(dir), 2);
    dataset_free(ds);
    dataset_free(other);
}

/* Malformed ids are refused before the filesystem is touched: "../victim"
 * would name a real file, yet neither remove nor load reaches it. */
static void test_bad_ids_rejected(void **state) {
    const char *dir = *state;
    char store[512], victim[512];
    path_of(store, sizeof store, dir, "store");
    path_of(victim, sizeof victim, dir, "victim.ds");
    assert_int_equal(mkdir(store, 0700), 0);
    write_whole(victim, "x", 1);
    const char *bad[] = {"../victim",
                         "",
                         "0123456789abcdef0123456789abcde",
                         "0123456789abcdef0123456789abcdef0",
                         "0123456789ABCDEF0123456789ABCDEF",
                         "0123456789abcdeF0123456789abcdef",
                         "0123456789abcdeg0123456789abcdef",
                         "../456789abcdef0123456789abcdef0",
                         "/tmp/56789abcdef0123456789abcdef",
                         "0123456789abcdef0123456789abcde ",
                         "0123456789abcdef0123456789abcdef.ds",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256] = "";
        dataset *ds = NOT_SET;
        assert_false(dataset_id_valid(bad[i]));
        assert_int_equal(dataset_store_load(store, bad[i], &ds, err, sizeof err), MCMC_EINVAL);
        assert_null(ds);
        assert_non_null(strstr(err, "invalid dataset id"));
        assert_int_equal(dataset_store_remove(store, bad[i]), MCMC_EINVAL);
        /* Even with a directory that does not exist: nothing is looked up. */
        assert_int_equal(dataset_store_remove("/nonexistent-mcmcd", bad[i]), MCMC_EINVAL);
    }
    assert_true(file_exists(victim));
    assert_true(dataset_id_valid("0123456789abcdef0123456789abcdef"));
}

/* ---- dataset_from_json ------------------------------------------------- */

static void test_json_parses(void **state) {
    (void)state;
    const char *body = "{\"name\": \"iris \\u00e9\", \"X\": [[1, -2.5e-3], [3, 4], [0, 1e300]],"
                       " \"y\": [true, false, 1]}";
    char name[32] = "untouched", err[128] = "untouched";
    dataset *ds = NOT_SET;
    assert_int_equal(dataset_from_json(body, strlen(body), &ds, name, sizeof name, err, sizeof err),
                     MCMC_OK);
    assert_string_equal(name, "iris \xc3\xa9");
    assert_string_equal(err, "");
    double X[] = {1, -2.5e-3, 3, 4, 0, 1e300};
    double y[] = {1, 0, 1};
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->d, 2);
    assert_memory_equal(ds->X, X, sizeof X);
    assert_memory_equal(ds->y, y, sizeof y);
    assert_null(ds->theta_true);
    dataset_free(ds);

    const char *bare = "{\"X\": [[0.5]], \"y\": [0.0]}"; /* no name; name_out NULL too */
    assert_int_equal(dataset_from_json(bare, strlen(bare), &ds, name, sizeof name, err, sizeof err),
                     MCMC_OK);
    assert_string_equal(name, "");
    dataset_free(ds);
    assert_int_equal(dataset_from_json(bare, strlen(bare), &ds, NULL, 0, err, sizeof err), MCMC_OK);
    assert_true(ds->y[0] == 0);
    dataset_free(ds);
    /* Only len bytes are read: the text need not be NUL-terminated. */
    const char *prefix = "{\"X\": [[2]], \"y\": [1]}garbage";
    assert_int_equal(dataset_from_json(prefix, 22, &ds, NULL, 0, err, sizeof err), MCMC_OK);
    assert_true(ds->X[0] == 2);
    dataset_free(ds);
    /* Real y and column names. */
    const char *named = "{\"X\": [[1, 2], [3, 4]], \"y\": [-1.5, 7], \"names\": [\"age\", \"w\"]}";
    assert_int_equal(dataset_from_json(named, strlen(named), &ds, NULL, 0, err, sizeof err),
                     MCMC_OK);
    assert_true(ds->y[0] == -1.5 && ds->y[1] == 7);
    assert_non_null(ds->names);
    assert_string_equal(ds->names[0], "age");
    assert_string_equal(ds->names[1], "w");
    dataset_free(ds);
}

typedef struct json_case {
    const char *body;
    int rc;
    const char *message; /* the whole message, or its start when it ends in "*" */
} json_case;

static const json_case json_cases[] = {
    {"", MCMC_EPARSE, "invalid JSON at byte 0: *"},
    {"{\"X\": [[1]], \"y\": [1]", MCMC_EPARSE, "invalid JSON at byte 21: *"},
    {"{\"X\": [[1, 2,]], \"y\": [1]}", MCMC_EPARSE, "invalid JSON at byte 14: *"},
    {"{\"X\": [[1]], \"y\": [1]} x", MCMC_EPARSE, "invalid JSON at byte *"},
    {"{\"X\": [[NaN]], \"y\": [1]}", MCMC_EPARSE, "invalid JSON at byte *"},
    {"{\"X\": [[1e400]], \"y\": [1]}", MCMC_EPARSE, "invalid JSON at byte *"},
    {"{\"X\": [[1]], \"y\": [1], \"y\": [0]}", MCMC_EPARSE, "invalid JSON at byte *"},
    {"[[1, 2]]", MCMC_EINVAL, "expected a JSON object, got array"},
    {"7", MCMC_EINVAL, "expected a JSON object, got number"},
    {"null", MCMC_EINVAL, "expected a JSON object, got null"},
    {"{\"X\": [[1]], \"y\": [1], \"labels\": 1}", MCMC_EINVAL,
     "labels: unknown field (expected name, X, y and names)"},
    {"{\"X\": [[1]], \"y\": [1], \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": 1}",
     MCMC_EINVAL, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown field *"},
    {"{\"name\": 5, \"X\": [[1]], \"y\": [1]}", MCMC_EINVAL, "name: expected a string, got number"},
    {"{\"name\": null, \"X\": [[1]], \"y\": [1]}", MCMC_EINVAL,
     "name: expected a string, got null"},
    {"{\"name\": \"a\\u0000b\", \"X\": [[1]], \"y\": [1]}", MCMC_EPARSE,
     "invalid JSON at byte 19: *"},
    {"{\"name\": \"0123456789abcdef\", \"X\": [[1]], \"y\": [1]}", MCMC_EINVAL,
     "name: longer than 15 bytes"},
    {"{\"y\": [1]}", MCMC_EINVAL, "X: required"},
    {"{\"X\": {}, \"y\": []}", MCMC_EINVAL, "X: expected an array of rows, got object"},
    {"{\"X\": [], \"y\": []}", MCMC_EINVAL, "X: must have at least one row"},
    {"{\"X\": [[]], \"y\": [1]}", MCMC_EINVAL, "X[0]: must have at least one number"},
    {"{\"X\": [[], []], \"y\": [1, 1]}", MCMC_EINVAL, "X[0]: must have at least one number"},
    {"{\"X\": [[1, 2], 3], \"y\": [1, 1]}", MCMC_EINVAL,
     "X[1]: expected an array of numbers, got number"},
    {"{\"X\": [\"ab\"], \"y\": [1]}", MCMC_EINVAL,
     "X[0]: expected an array of numbers, got string"},
    {"{\"X\": [[1,2,3,4,5], [1,2,3,4,5], [1,2,3,4,5], [1,2,3,4]], \"y\": [1, 1, 1, 1]}",
     MCMC_EINVAL, "X[3]: expected 5 numbers, got 4"},
    {"{\"X\": [[1, 2], [3, 4, 5]], \"y\": [1, 1]}", MCMC_EINVAL, "X[1]: expected 2 numbers, got 3"},
    {"{\"X\": [[1, \"2\"]], \"y\": [1]}", MCMC_EINVAL, "X[0][1]: expected a number, got string"},
    {"{\"X\": [[1], [null]], \"y\": [1, 0]}", MCMC_EINVAL, "X[1][0]: expected a number, got null"},
    {"{\"X\": [[1], [true]], \"y\": [1, 0]}", MCMC_EINVAL,
     "X[1][0]: expected a number, got boolean"},
    {"{\"X\": [[1], [[2]]], \"y\": [1, 0]}", MCMC_EINVAL, "X[1][0]: expected a number, got array"},
    {"{\"X\": [[1]]}", MCMC_EINVAL, "y: required"},
    {"{\"X\": [[1]], \"y\": 1}", MCMC_EINVAL, "y: expected an array, got number"},
    {"{\"X\": [[1]], \"y\": {\"0\": 1}}", MCMC_EINVAL, "y: expected an array, got object"},
    {"{\"X\": [[1], [2]], \"y\": [1]}", MCMC_EINVAL,
     "y: expected 2 numbers (one per row of X), got 1"},
    {"{\"X\": [[1]], \"y\": [1, 0]}", MCMC_EINVAL,
     "y: expected 1 numbers (one per row of X), got 2"},
    {"{\"X\": [[1], [2]], \"y\": [1, \"1\"]}", MCMC_EINVAL, "y[1]: expected a number, got string"},
    {"{\"X\": [[1], [2]], \"y\": [null, 1]}", MCMC_EINVAL, "y[0]: expected a number, got null"},
    {"{\"X\": [[1, 2]], \"y\": [1], \"names\": [\"a\"]}", MCMC_EINVAL,
     "names: expected an array of 2 strings (one per column of X)"},
    {"{\"X\": [[1, 2]], \"y\": [1], \"names\": \"a,b\"}", MCMC_EINVAL,
     "names: expected an array of 2 strings (one per column of X)"},
    {"{\"X\": [[1, 2]], \"y\": [1], \"names\": [\"a\", 2]}", MCMC_EINVAL,
     "names[1]: expected a string, got number"},
    {"{\"X\": [[1, 2]], \"y\": [1], \"names\": [\"a\", \"a\"]}", MCMC_EINVAL,
     "names: column 2: the name repeats an earlier column's"},
    {"{\"X\": [[1, 2]], \"y\": [1], \"names\": [\"\", \"a\"]}", MCMC_EINVAL,
     "names: column 1: the name is empty"},
};

static int message_matches(const char *got, const char *want) {
    size_t k = strlen(want);
    if (k > 0 && want[k - 1] == '*') return strncmp(got, want, k - 1) == 0;
    return strcmp(got, want) == 0;
}

static void test_json_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof json_cases / sizeof *json_cases; i++) {
        const json_case *c = &json_cases[i];
        char name[16] = "untouched", err[256] = "";
        dataset *ds = NOT_SET;
        int rc =
            dataset_from_json(c->body, strlen(c->body), &ds, name, sizeof name, err, sizeof err);
        if (rc != c->rc || !message_matches(err, c->message))
            print_error("body %s\n  got  %d \"%s\"\n  want %d \"%s\"\n", c->body, rc, err, c->rc,
                        c->message);
        assert_int_equal(rc, c->rc);
        assert_true(message_matches(err, c->message));
        assert_null(ds);
        assert_string_equal(name, "");
    }
}

/* A small err buffer truncates the message but stays a C string. */
static void test_json_error_buffer_small(void **state) {
    (void)state;
    const char *body = "{\"X\": [[1, 2], [3]], \"y\": [1, 1]}";
    char err[8];
    dataset *ds = NOT_SET;
    assert_int_equal(dataset_from_json(body, strlen(body), &ds, NULL, 0, err, sizeof err),
                     MCMC_EINVAL);
    assert_string_equal(err, "X[1]: e");
    assert_null(ds);
    assert_int_equal(dataset_from_json(body, strlen(body), &ds, NULL, 0, NULL, 0), MCMC_EINVAL);
}

/* A parse error quotes the input near it; the message stays valid UTF-8
 * even when the quote would cut a character (a fuzz find). */
static void test_json_error_is_utf8(void **state) {
    (void)state;
    const char *bad[] = {"{\"name\": \"ab\\u0\xc3\xa9\"}", "{\"name\": \"\\u\xe2\x82\xac\"}",
                         "[\"\\u12\xf0\x9f\x98\x80\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dataset *ds = NULL;
        char name[64], err[256];
        assert_int_not_equal(
            dataset_from_json(bad[i], strlen(bad[i]), &ds, name, sizeof name, err, sizeof err),
            MCMC_OK);
        assert_null(ds);
        assert_true(utf8_valid(err));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_error_is_utf8),
        cmocka_unit_test(test_sha256_fips_vectors),
        cmocka_unit_test(test_sha256_million_a),
        cmocka_unit_test(test_sha256_padding_boundaries),
        cmocka_unit_test(test_sha256_split_at_every_offset),
        cmocka_unit_test_setup_teardown(test_round_trip_synthetic, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_round_trip_csv, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_file_layout, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_old_format_loads, make_dir, remove_dir),
        cmocka_unit_test(test_ids_follow_content),
        cmocka_unit_test_setup_teardown(test_json_and_csv_same_id, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_save_twice_writes_once, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_save_repairs_short_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_save_rejects_invalid, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_corruption_is_caught, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_truncation_is_caught, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_file_under_wrong_id, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_invalid_contents_are_caught, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_missing_dataset, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_remove, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_bad_ids_rejected, make_dir, remove_dir),
        cmocka_unit_test(test_json_parses),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_error_buffer_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
