/*
 * JPEG decoding with libjpeg-turbo at Pillow's settings, for src/data/jpeg.rs.
 *
 * libjpeg reports a fatal error by calling error_exit, which must not return:
 * the default one calls exit(). Here it formats the message and longjmps back
 * to the entry point that called into libjpeg. setjmp/longjmp stay inside C
 * (no Rust frame is ever skipped), and every entry point returns a status
 * instead: DPN_JPEG_ERROR (message in dpn_jpeg_message) or DPN_JPEG_TRUNCATED.
 *
 * The source manager hands libjpeg the whole file at once and suspends when
 * it asks for more, as Pillow's decoder does at the end of the file; Pillow
 * (LOAD_TRUNCATED_IMAGES false) then raises "image file is truncated", and so
 * do we. Warnings (corrupt but decodable data) are neither printed nor fatal,
 * as in Pillow.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#if !defined(LIBJPEG_TURBO_VERSION_NUMBER) || LIBJPEG_TURBO_VERSION_NUMBER < 2001000
#error "dpn needs libjpeg-turbo 2.1 or newer (jpeglib.h from libjpeg-turbo's development package)"
#endif

#define DPN_JPEG_ERROR (-1)
#define DPN_JPEG_TRUNCATED (-2)
/* Rows handed to jpeg_read_scanlines at once. */
#define DPN_JPEG_MAX_ROWS 16

struct dpn_jpeg {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_source_mgr src;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr cinfo) {
    struct dpn_jpeg *d = (struct dpn_jpeg *)cinfo->client_data;
    cinfo->err->format_message(cinfo, d->message);
    longjmp(d->jump, 1);
}

/* Warnings and trace messages: never printed. */
static void on_output(j_common_ptr cinfo) { (void)cinfo; }

static void src_init(j_decompress_ptr cinfo) { (void)cinfo; }

/* All the data was given at once: asking for more is the end of the file. */
static boolean src_fill(j_decompress_ptr cinfo) {
    (void)cinfo;
    return FALSE;
}

static void src_skip(j_decompress_ptr cinfo, long n) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (n <= 0) {
        return;
    }
    if ((size_t)n > src->bytes_in_buffer) {
        /* Past the end: the next read suspends, as in Pillow. */
        src->next_input_byte += src->bytes_in_buffer;
        src->bytes_in_buffer = 0;
    } else {
        src->next_input_byte += n;
        src->bytes_in_buffer -= (size_t)n;
    }
}

static void src_term(j_decompress_ptr cinfo) { (void)cinfo; }

static int create(struct dpn_jpeg *d) {
    if (setjmp(d->jump)) {
        return DPN_JPEG_ERROR;
    }
    jpeg_create_decompress(&d->cinfo);
    return 0;
}

struct dpn_jpeg *dpn_jpeg_open(const unsigned char *data, size_t len) {
    struct dpn_jpeg *d = calloc(1, sizeof *d);
    if (!d) {
        return NULL;
    }
    d->cinfo.err = jpeg_std_error(&d->err);
    d->err.error_exit = on_error;
    d->err.output_message = on_output;
    d->cinfo.client_data = d;
    if (create(d) != 0) {
        jpeg_destroy_decompress(&d->cinfo);
        free(d);
        return NULL;
    }
    d->src.init_source = src_init;
    d->src.fill_input_buffer = src_fill;
    d->src.skip_input_data = src_skip;
    d->src.resync_to_restart = jpeg_resync_to_restart;
    d->src.term_source = src_term;
    d->src.next_input_byte = data;
    d->src.bytes_in_buffer = len;
    d->cinfo.src = &d->src;
    return d;
}

void dpn_jpeg_close(struct dpn_jpeg *d) {
    if (d) {
        jpeg_destroy_decompress(&d->cinfo);
        free(d);
    }
}

const char *dpn_jpeg_message(const struct dpn_jpeg *d) { return d->message; }

/* Reads the markers up to the first scan: the size and the number of
 * components, before anything large is allocated. */
int dpn_jpeg_read_header(struct dpn_jpeg *d, unsigned *width, unsigned *height,
                         int *components) {
    if (setjmp(d->jump)) {
        return DPN_JPEG_ERROR;
    }
    if (jpeg_read_header(&d->cinfo, TRUE) != JPEG_HEADER_OK) {
        return DPN_JPEG_TRUNCATED;
    }
    *width = d->cinfo.image_width;
    *height = d->cinfo.image_height;
    *components = d->cinfo.num_components;
    return 0;
}

/* Starts decompression at Pillow's settings and returns the number of output
 * components: 1 (grayscale), 3 (RGB) or 4 (CMYK, as stored: Adobe-inverted). */
int dpn_jpeg_start(struct dpn_jpeg *d) {
    struct jpeg_decompress_struct *c = &d->cinfo;
    if (setjmp(d->jump)) {
        return DPN_JPEG_ERROR;
    }
    switch (c->num_components) {
    case 1:
        c->out_color_space = JCS_GRAYSCALE;
        break;
    case 3:
        c->out_color_space = JCS_RGB;
        break;
    case 4:
        /* CMYK stays CMYK, YCCK becomes CMYK (Pillow's rawmode "CMYK;I"). */
        c->out_color_space = JCS_CMYK;
        break;
    default:
        snprintf(d->message, sizeof d->message, "cannot handle %d-component images",
                 c->num_components);
        return DPN_JPEG_ERROR;
    }
    /* libjpeg's defaults, which Pillow keeps (it changes them only for draft
     * mode or a reducing scale): the accurate integer IDCT, fancy (triangle)
     * chroma upsampling, block smoothing of progressive scans, full size. */
    c->dct_method = JDCT_ISLOW;
    c->do_fancy_upsampling = TRUE;
    c->do_block_smoothing = TRUE;
    c->scale_num = 1;
    c->scale_denom = 1;
    c->quantize_colors = FALSE;
    c->buffered_image = FALSE;
    c->raw_data_out = FALSE;
    if (!jpeg_start_decompress(c)) {
        return DPN_JPEG_TRUNCATED;
    }
    return c->output_components;
}

/* Decodes up to `rows` rows (at most DPN_JPEG_MAX_ROWS) into `out`, `stride`
 * bytes apart; returns how many it decoded. */
int dpn_jpeg_read_rows(struct dpn_jpeg *d, unsigned char *out, size_t stride,
                       unsigned rows) {
    JSAMPROW pointers[DPN_JPEG_MAX_ROWS];
    const unsigned count = rows < DPN_JPEG_MAX_ROWS ? rows : DPN_JPEG_MAX_ROWS;
    unsigned i, n;
    for (i = 0; i < count; i++) {
        pointers[i] = out + i * stride;
    }
    if (setjmp(d->jump)) {
        return DPN_JPEG_ERROR;
    }
    n = jpeg_read_scanlines(&d->cinfo, pointers, count);
    if (n == 0) {
        return DPN_JPEG_TRUNCATED;
    }
    return (int)n;
}

/* Reads to the end of the image. A missing EOI after the last row is not an
 * error (Pillow's decoder stops there too); a corrupt one is. */
int dpn_jpeg_finish(struct dpn_jpeg *d) {
    if (setjmp(d->jump)) {
        return DPN_JPEG_ERROR;
    }
    (void)jpeg_finish_decompress(&d->cinfo);
    return 0;
}
