/*
 * dify_upload: inline (data:) images, checked and made into Dify's
 * POST /files/upload.
 */
#ifndef ODP_DIFY_UPLOAD_H
#define ODP_DIFY_UPLOAD_H

#include <stddef.h>

#include "api_error.h"
#include "buf.h"

/* Dify's UPLOAD_IMAGE_FILE_SIZE_LIMIT default: 10 MB. */
#define DIFY_UPLOAD_MAX_IMAGE	(10 * 1024 * 1024)
/* Inline images taken in one message. */
#define DIFY_UPLOAD_MAX_IMAGES	10

/* One inline image: its bytes, and Dify's id for it once uploaded. */
struct dify_upload_image {
	const char	*mime;		/* image/png, ... (static) */
	const char	*ext;		/* png, ... (static) */
	struct buf	 data;		/* the decoded bytes */
	char		 param[96];	/* messages[i].content[j].image_url */
	char		 file_id[64];	/* "" until uploaded */
};

int	 dify_upload_is_data_url(const char *);
int	 dify_upload_decode(const char *, size_t, struct dify_upload_image *,
	    struct api_error *);
void	 dify_upload_image_free(struct dify_upload_image *);
void	 dify_upload_body(const char *, const char *,
	    const struct dify_upload_image *, size_t, struct buf *);
int	 dify_upload_file_id(const char *, size_t, char *, size_t);

#endif
