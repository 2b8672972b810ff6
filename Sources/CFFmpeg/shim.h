#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libswscale/swscale.h>
#include <stdint.h>
/* Macros Swift cannot import (platform-notes): wrapped as functions. */
static inline int cff_averror(int e) { return AVERROR(e); }
static inline int cff_averror_eof(void) { return AVERROR_EOF; }
static inline int cff_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int64_t cff_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline void cff_err2str(int err, char *buf, size_t size) { av_strerror(err, buf, size); }
/* Field access helpers: the 8-element pointer arrays of AVFrame arrive in Swift as tuples. */
static inline uint8_t **cff_frame_data(AVFrame *f) { return f->data; }
static inline int *cff_frame_linesize(AVFrame *f) { return f->linesize; }
/* Rotation from the stream's display matrix in degrees counter-clockwise, or 0 when there is none. */
static inline double cff_stream_rotation(AVStream *st) {
    const int32_t *m = (const int32_t *)av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    return m ? av_display_rotation_get(m) : 0.0;
}
