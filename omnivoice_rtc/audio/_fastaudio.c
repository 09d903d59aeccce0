/*
 * _fastaudio: compiled inner loop of omnivoice_rtc.audio.converter.StreamConverter.
 *
 * One Stream object = decode (PCM16 LE/BE or an 8-bit G.711 table) -> stateful polyphase FIR
 * resampler -> round/clip to int16 -> encode (PCM16 LE/BE or a 65,536-entry G.711 table),
 * in one call per frame. Filters and G.711 tables are designed in Python
 * (omnivoice_rtc.audio.resampler / g711) and handed over as bytes, so both paths share one
 * source of truth; this file only runs them. The algorithm mirrors
 * resampler.StreamingResampler.process exactly (same output counts, float32 arithmetic).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { KIND_PCM16LE = 0, KIND_PCM16BE = 1, KIND_TABLE8 = 2 };

typedef struct {
    PyObject_HEAD
    int in_kind, out_kind;
    int up, down, taps;          /* reduced ratio L/M; taps per polyphase branch */
    int delay_out, flush_in;     /* group delay (output samples); zeros fed by flush */
    int64_t pos;                 /* common-rate index of the next output, from buf start */
    float *coeffs;               /* up * taps, each branch reversed */
    float *buf;                  /* (taps - 1) history samples, then the new input */
    Py_ssize_t cap;              /* capacity of buf in samples */
    int16_t dec[256];            /* 8-bit code -> int16 (KIND_TABLE8 input) */
    uint8_t *enc;                /* int16 (as uint16) -> 8-bit code (KIND_TABLE8 output) */
    char in_name[16];
} Stream;

static void stream_reset(Stream *s) {
    memset(s->buf, 0, sizeof(float) * (size_t)(s->taps - 1 > 0 ? s->taps - 1 : 0));
    s->pos = (int64_t)(s->taps - 1) * s->up;
}

static int stream_reserve(Stream *s, Py_ssize_t n) {
    Py_ssize_t need = (Py_ssize_t)(s->taps - 1) + n;
    if (need <= s->cap) return 0;
    Py_ssize_t cap = need > 2 * s->cap ? need : 2 * s->cap;
    float *nb = PyMem_Realloc(s->buf, sizeof(float) * (size_t)cap);
    if (nb == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->buf = nb;
    s->cap = cap;
    return 0;
}

typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));

#define ALWAYS_INLINE static inline __attribute__((always_inline))

ALWAYS_INLINE float hsum8(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/* Dot product of n floats (n a multiple of 8), four independent accumulators. */
ALWAYS_INLINE float dot8(const float *a, const float *b, int n) {
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int t = 0;
    for (; t + 32 <= n; t += 32) {
        s0 += *(const v8 *)(a + t) * *(const v8 *)(b + t);
        s1 += *(const v8 *)(a + t + 8) * *(const v8 *)(b + t + 8);
        s2 += *(const v8 *)(a + t + 16) * *(const v8 *)(b + t + 16);
        s3 += *(const v8 *)(a + t + 24) * *(const v8 *)(b + t + 24);
    }
    for (; t < n; t += 8) s0 += *(const v8 *)(a + t) * *(const v8 *)(b + t);
    return hsum8((s0 + s1) + (s2 + s3));
}

ALWAYS_INLINE void put_sample(const Stream *s, char *out, Py_ssize_t k, float acc) {
    long v = lrintf(acc);
    if (v > 32767) v = 32767;
    if (v < -32768) v = -32768;
    uint16_t u = (uint16_t)(int16_t)v;
    switch (s->out_kind) {
        case KIND_PCM16LE:
            out[2 * k] = (char)(u & 0xFF);
            out[2 * k + 1] = (char)(u >> 8);
            break;
        case KIND_PCM16BE:
            out[2 * k] = (char)(u >> 8);
            out[2 * k + 1] = (char)(u & 0xFF);
            break;
        default:
            out[k] = (char)s->enc[u];
    }
}

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

/* General L/M path: one dot product per output sample. */
MULTIVERSION
static void stream_filter_dot(Stream *s, Py_ssize_t count, char *out) {
    const int up = s->up, taps = s->taps, step_i = s->down / s->up, step_p = s->down % s->up;
    const Py_ssize_t hist = taps - 1;
    Py_ssize_t i = (Py_ssize_t)(s->pos / up) - hist; /* window start */
    int ph = (int)(s->pos % up);
    for (Py_ssize_t k = 0; k < count; k++) {
        put_sample(s, out, k, dot8(s->coeffs + (Py_ssize_t)ph * taps, s->buf + i, taps));
        i += step_i;
        ph += step_p;
        if (ph >= up) {
            ph -= up;
            i++;
        }
    }
}

/* Pure interpolation (M == 1, phase 0 at entry): 32 consecutive input positions at a time,
 * vectorised across outputs so no horizontal sums are needed. count == n * up. */
MULTIVERSION
static void stream_filter_up(Stream *s, Py_ssize_t n, char *out) {
    const int up = s->up, taps = s->taps;
    Py_ssize_t j = 0;
    for (; j + 32 <= n; j += 32) {
        for (int p = 0; p < up; p++) {
            const float *c = s->coeffs + (Py_ssize_t)p * taps;
            const float *x = s->buf + j;
            v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int t = 0; t < taps; t++) {
                v8 ct = {c[t], c[t], c[t], c[t], c[t], c[t], c[t], c[t]};
                a0 += ct * *(const v8 *)(x + t);
                a1 += ct * *(const v8 *)(x + t + 8);
                a2 += ct * *(const v8 *)(x + t + 16);
                a3 += ct * *(const v8 *)(x + t + 24);
            }
            for (int q = 0; q < 8; q++) {
                put_sample(s, out, (j + q) * up + p, a0[q]);
                put_sample(s, out, (j + 8 + q) * up + p, a1[q]);
                put_sample(s, out, (j + 16 + q) * up + p, a2[q]);
                put_sample(s, out, (j + 24 + q) * up + p, a3[q]);
            }
        }
    }
    for (; j < n; j++)
        for (int p = 0; p < up; p++)
            put_sample(s, out, j * up + p, dot8(s->coeffs + (Py_ssize_t)p * taps, s->buf + j, taps));
}

static void stream_filter(Stream *s, Py_ssize_t count, Py_ssize_t n, char *out) {
    if (s->down == 1 && s->up > 1 && s->pos == (int64_t)(s->taps - 1) * s->up)
        stream_filter_up(s, n, out);
    else
        stream_filter_dot(s, count, out);
}

/* Run the filter over n samples already written after the history; return the output bytes. */
static PyObject *stream_run(Stream *s, Py_ssize_t n) {
    const Py_ssize_t hist = s->taps - 1;
    int64_t span = (int64_t)(hist + n) * s->up - s->pos;
    Py_ssize_t count = span > 0 ? (Py_ssize_t)((span + s->down - 1) / s->down) : 0;
    int out_bps = s->out_kind == KIND_TABLE8 ? 1 : 2;
    PyObject *result = PyBytes_FromStringAndSize(NULL, count * out_bps);
    if (result == NULL) return NULL;
    stream_filter(s, count, n, PyBytes_AS_STRING(result));
    s->pos += (int64_t)count * s->down - (int64_t)n * s->up;
    if (hist > 0) memmove(s->buf, s->buf + n, sizeof(float) * (size_t)hist);
    return result;
}

static int stream_ready(const Stream *s) {
    if (s->coeffs != NULL && s->buf != NULL) return 1;
    PyErr_SetString(PyExc_RuntimeError, "_fastaudio.Stream: not initialised");
    return 0;
}

static PyObject *Stream_process(Stream *s, PyObject *arg) {
    Py_buffer view;
    if (!stream_ready(s)) return NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        PyObject *type_name = PyType_GetName(Py_TYPE(arg)); /* short name, like type(x).__name__ */
        if (type_name == NULL) return NULL;
        PyErr_Format(PyExc_ValueError,
                     "StreamConverter.process: expected bytes-like audio, got %U", type_name);
        Py_DECREF(type_name);
        return NULL;
    }
    const char *fmt = view.format ? view.format : "B";
    if (fmt[0] == '<' || fmt[0] == '=' || fmt[0] == '@') fmt++;
    int in_bps = s->in_kind == KIND_TABLE8 ? 1 : 2;
    int fmt_ok = (fmt[1] == '\0') && (fmt[0] == 'B' || fmt[0] == 'b' || fmt[0] == 'c' ||
                                      (fmt[0] == 'h' && in_bps == 2));
    if (!fmt_ok) {
        PyErr_Format(PyExc_ValueError,
                     "StreamConverter.process: %s input must be bytes or a uint8%s buffer, "
                     "got buffer format %.16s",
                     s->in_name, in_bps == 2 ? "/int16" : "", view.format ? view.format : "?");
        PyBuffer_Release(&view);
        return NULL;
    }
    if (view.len % in_bps) {
        PyErr_Format(PyExc_ValueError,
                     "StreamConverter.process: %s input must be a whole number of 2-byte "
                     "samples, got %zd bytes",
                     s->in_name, view.len);
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_ssize_t n = view.len / in_bps;
    if (stream_reserve(s, n) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    float *dst = s->buf + (s->taps - 1);
    const uint8_t *src = (const uint8_t *)view.buf;
    switch (s->in_kind) {
        case KIND_PCM16LE:
            for (Py_ssize_t j = 0; j < n; j++)
                dst[j] = (float)(int16_t)(uint16_t)(src[2 * j] | (src[2 * j + 1] << 8));
            break;
        case KIND_PCM16BE:
            for (Py_ssize_t j = 0; j < n; j++)
                dst[j] = (float)(int16_t)(uint16_t)((src[2 * j] << 8) | src[2 * j + 1]);
            break;
        default:
            for (Py_ssize_t j = 0; j < n; j++) dst[j] = (float)s->dec[src[j]];
    }
    PyBuffer_Release(&view);
    return stream_run(s, n);
}

static PyObject *Stream_flush(Stream *s, PyObject *Py_UNUSED(ignored)) {
    if (!stream_ready(s)) return NULL;
    Py_ssize_t n = s->flush_in;
    if (stream_reserve(s, n) < 0) return NULL;
    memset(s->buf + (s->taps - 1), 0, sizeof(float) * (size_t)n);
    PyObject *all = stream_run(s, n);
    if (all == NULL) return NULL;
    int out_bps = s->out_kind == KIND_TABLE8 ? 1 : 2;
    Py_ssize_t keep = (Py_ssize_t)s->delay_out * out_bps;
    if (keep > PyBytes_GET_SIZE(all)) keep = PyBytes_GET_SIZE(all);
    PyObject *tail = PyBytes_FromStringAndSize(PyBytes_AS_STRING(all), keep);
    Py_DECREF(all);
    stream_reset(s);
    return tail;
}

static PyObject *Stream_reset(Stream *s, PyObject *Py_UNUSED(ignored)) {
    if (!stream_ready(s)) return NULL;
    stream_reset(s);
    Py_RETURN_NONE;
}

static int Stream_init(Stream *s, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"in_kind", "out_kind", "up", "down", "taps", "delay_out",
                             "flush_in", "coeffs", "dec_table", "enc_table", "in_name", NULL};
    Py_buffer coeffs, dec, enc;
    const char *in_name;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiiiiiiy*y*y*s", kwlist, &s->in_kind,
                                     &s->out_kind, &s->up, &s->down, &s->taps, &s->delay_out,
                                     &s->flush_in, &coeffs, &dec, &enc, &in_name))
        return -1;
    int rc = -1;
    if (s->up < 1 || s->down < 1 || s->taps < 1 || s->delay_out < 0 || s->flush_in < 0 ||
        s->in_kind < 0 || s->in_kind > 2 || s->out_kind < 0 || s->out_kind > 2) {
        PyErr_SetString(PyExc_ValueError, "_fastaudio.Stream: invalid parameters");
        goto done;
    }
    if (coeffs.len != (Py_ssize_t)sizeof(float) * s->up * s->taps) {
        PyErr_SetString(PyExc_ValueError, "_fastaudio.Stream: coeffs must be up*taps float32");
        goto done;
    }
    if (s->in_kind == KIND_TABLE8 && dec.len != 512) {
        PyErr_SetString(PyExc_ValueError, "_fastaudio.Stream: dec_table must be 256 int16");
        goto done;
    }
    if (s->out_kind == KIND_TABLE8 && enc.len != 65536) {
        PyErr_SetString(PyExc_ValueError, "_fastaudio.Stream: enc_table must be 65536 bytes");
        goto done;
    }
    PyMem_Free(s->coeffs);
    PyMem_Free(s->buf);
    PyMem_Free(s->enc);
    s->buf = NULL;
    s->enc = NULL;
    s->cap = 0;
    s->coeffs = PyMem_Malloc((size_t)coeffs.len);
    if (s->coeffs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(s->coeffs, coeffs.buf, (size_t)coeffs.len);
    if (s->in_kind == KIND_TABLE8) memcpy(s->dec, dec.buf, 512);
    if (s->out_kind == KIND_TABLE8) {
        s->enc = PyMem_Malloc(65536);
        if (s->enc == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        memcpy(s->enc, enc.buf, 65536);
    }
    snprintf(s->in_name, sizeof s->in_name, "%s", in_name);
    if (stream_reserve(s, 1024) < 0) goto done;
    stream_reset(s);
    rc = 0;
done:
    PyBuffer_Release(&coeffs);
    PyBuffer_Release(&dec);
    PyBuffer_Release(&enc);
    return rc;
}

static void Stream_dealloc(Stream *s) {
    PyMem_Free(s->coeffs);
    PyMem_Free(s->buf);
    PyMem_Free(s->enc);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Stream_methods[] = {
    {"process", (PyCFunction)Stream_process, METH_O,
     "process(frame) -> bytes: decode, resample and encode one frame."},
    {"flush", (PyCFunction)Stream_flush, METH_NOARGS,
     "flush() -> bytes: drain the filter's group delay, then reset."},
    {"reset", (PyCFunction)Stream_reset, METH_NOARGS, "reset(): forget all input."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "omnivoice_rtc.audio._fastaudio.Stream",
    .tp_basicsize = sizeof(Stream),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Stateful decode + polyphase resample + encode.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Stream_init,
    .tp_dealloc = (destructor)Stream_dealloc,
    .tp_methods = Stream_methods,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastaudio",
    .m_doc = "Compiled frame path of omnivoice_rtc.audio.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fastaudio(void) {
    if (PyType_Ready(&StreamType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    Py_INCREF(&StreamType);
    if (PyModule_AddObject(m, "Stream", (PyObject *)&StreamType) < 0) {
        Py_DECREF(&StreamType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
