/*
 * check_upstream_tls: the TLS client side to Dify over an in-memory BIO
 * pair against an OpenSSL server made here (a certificate for
 * localhost, made by the test): session reuse, certificate checks, and
 * what upstream_tls_read and upstream_tls_write report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "check_suites.h"
#include "config.h"
#include "upstream_tls.h"
#include "util.h"
#include "url.h"

static SSL_CTX	*tls_server;		/* the look-alike Dify's context */
static char	 tls_ca[64];		/* its certificate, as a CA file */

/* Make a self-signed P-256 certificate for localhost into the server. */
static void
tls_setup(void)
{
	EVP_PKEY	*key;
	X509		*x;
	X509_EXTENSION	*ext;
	X509V3_CTX	 v3;
	FILE		*f;
	int		 fd;

	ck_assert_ptr_nonnull(key = EVP_EC_gen("P-256"));
	ck_assert_ptr_nonnull(x = X509_new());
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);

	snprintf(tls_ca, sizeof(tls_ca), "/tmp/odp-check-tls-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(tls_ca), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	PEM_write_X509(f, x);
	fclose(f);

	ck_assert_ptr_nonnull(tls_server = SSL_CTX_new(TLS_server_method()));
	ck_assert_int_eq(SSL_CTX_use_certificate(tls_server, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(tls_server, key), 1);
	SSL_CTX_set_session_id_context(tls_server, (const unsigned char *)"t",
	    1);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* Free the server and remove its certificate file. */
static void
tls_teardown(void)
{
	SSL_CTX_free(tls_server);
	unlink(tls_ca);
}

/* A client for https://host/ trusting (or not) the test's certificate. */
static struct upstream_tls *
tls_client(struct config *c, struct url *u, const char *host, int trust)
{
	struct upstream_tls	*tls;
	char			*cause = NULL, err[128];

	config_defaults(c);
	/* Not trusted: the system's store, which has never heard of it. */
	if (trust)
		c->tls_ca_file = strdup(tls_ca);
	snprintf(err, sizeof(err), "https://%s/v1", host);
	ck_assert_int_eq(url_parse(err, u, err, sizeof(err)), 0);
	tls = upstream_tls_new(c, &cause);
	ck_assert_msg(tls != NULL, "%s", cause != NULL ? cause : "?");
	return (tls);
}

/* A client SSL and a server SSL joined by a BIO pair of size bytes. */
static void
tls_pair(struct upstream_tls *tls, const struct url *u, long *verr,
    size_t size, SSL **cl, SSL **sv)
{
	BIO	*bc, *bs;

	ck_assert_int_eq(BIO_new_bio_pair(&bc, size, &bs, size), 1);
	ck_assert_ptr_nonnull(*cl = upstream_tls_ssl_new(tls, u, verr));
	ck_assert_ptr_nonnull(*sv = SSL_new(tls_server));
	SSL_set_bio(*cl, bc, bc);
	SSL_set_bio(*sv, bs, bs);
	SSL_set_connect_state(*cl);
	SSL_set_accept_state(*sv);
}

/* Drive both handshakes; returns 1 when both finished, 0 on a failure. */
static int
tls_handshake(SSL *cl, SSL *sv)
{
	int	i, rc, rs;

	for (i = 0; i < 100; i++) {
		rc = SSL_do_handshake(cl);
		rs = SSL_do_handshake(sv);
		if (rc == 1 && rs == 1)
			return (1);
		if ((rc <= 0 && SSL_get_error(cl, rc) != SSL_ERROR_WANT_READ) ||
		    (rs <= 0 && SSL_get_error(sv, rs) != SSL_ERROR_WANT_READ))
			return (0);
	}
	return (0);
}

/* Read everything the client can, into buf; returns the status. */
static enum upstream_tls_read
tls_read_all(SSL *cl, char *buf, size_t size, size_t *got)
{
	unsigned long	err;

	return (upstream_tls_read(cl, buf, size, got, &err));
}

/* Count each read of a BIO (its callback argument is an int counter). */
static long
tls_count_reads(BIO *b, int oper, const char *argp UNUSED,
    size_t len UNUSED, int argi UNUSED, long argl UNUSED, int ret,
    size_t *processed UNUSED)
{
	if (oper == BIO_CB_READ)
		(*(int *)(void *)BIO_get_callback_arg(b))++;
	return (ret);
}

/* Free a pair. */
static void
tls_pair_free(SSL *cl, SSL *sv)
{
	SSL_free(cl);
	SSL_free(sv);
}

/*
 * The second connection resumes the session the first got (with its
 * first read, where TLS 1.3's ticket arrives), though the first was
 * freed without a TLS shutdown, as libevent frees connections.
 */
START_TEST(check_upstream_tls_resumes)
{
	struct config		 c;
	struct url		 u;
	struct upstream_tls	*tls;
	SSL			*cl, *sv;
	char			 buf[64];
	size_t			 got;
	long			 verr = 0;

	tls = tls_client(&c, &u, "localhost", 1);
	tls_pair(tls, &u, &verr, 17 * 1024, &cl, &sv);
	ck_assert(tls_handshake(cl, sv));
	ck_assert(!upstream_tls_resumed(cl));
	ck_assert_int_eq(SSL_write(sv, "hello", 5), 5);
	ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf), &got),
	    UPSTREAM_TLS_WOULD_BLOCK);
	ck_assert_uint_eq(got, 5);
	ck_assert(memcmp(buf, "hello", 5) == 0);
	tls_pair_free(cl, sv);

	tls_pair(tls, &u, &verr, 17 * 1024, &cl, &sv);
	ck_assert(tls_handshake(cl, sv));
	ck_assert(upstream_tls_resumed(cl));
	ck_assert_int_eq(verr, 0);
	tls_pair_free(cl, sv);
	upstream_tls_free(tls);
	config_free(&c);
}
END_TEST

/* A certificate for another name, or from no trusted CA, is refused. */
START_TEST(check_upstream_tls_verifies)
{
	struct config		 c;
	struct url		 u;
	struct upstream_tls	*tls;
	SSL			*cl, *sv;
	long			 verr = 0;

	tls = tls_client(&c, &u, "otherhost", 1);
	tls_pair(tls, &u, &verr, 17 * 1024, &cl, &sv);
	ck_assert(!tls_handshake(cl, sv));
	ck_assert_int_eq(verr, X509_V_ERR_HOSTNAME_MISMATCH);
	tls_pair_free(cl, sv);
	upstream_tls_free(tls);
	config_free(&c);

	verr = 0;
	tls = tls_client(&c, &u, "localhost", 0);
	tls_pair(tls, &u, &verr, 17 * 1024, &cl, &sv);
	ck_assert(!tls_handshake(cl, sv));
	ck_assert_int_ne(verr, 0);
	tls_pair_free(cl, sv);
	upstream_tls_free(tls);
	config_free(&c);
}
END_TEST

/*
 * Reading ahead, one read takes every record the socket has and asks the
 * socket no more once OpenSSL holds nothing; without, a read ends with
 * each record OpenSSL took (the socket brings the rest).  A read stops
 * at a full buffer, and reports the peer's close, and a stream of
 * garbage, after the bytes that came before them.
 */
START_TEST(check_upstream_tls_read)
{
	struct config		 c;
	struct url		 u;
	struct upstream_tls	*tls;
	SSL			*cl, *sv;
	char			 rec[1000], buf[4096];
	unsigned long		 err;
	size_t			 got;
	long			 verr = 0;
	int			 ahead, i, reads;

	memset(rec, 'r', sizeof(rec));
	tls = tls_client(&c, &u, "localhost", 1);
	for (ahead = 0; ahead <= 1; ahead++) {
		tls_pair(tls, &u, &verr, 64 * 1024, &cl, &sv);
		ck_assert(tls_handshake(cl, sv));
		SSL_set_read_ahead(cl, ahead);
		/* Three records: one read ahead, else one read each. */
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(SSL_write(sv, rec, sizeof(rec)),
			    (int)sizeof(rec));
		reads = 0;
		BIO_set_callback_arg(SSL_get_rbio(cl), (char *)&reads);
		BIO_set_callback_ex(SSL_get_rbio(cl), tls_count_reads);
		for (i = 0; i < (ahead ? 1 : 3); i++) {
			ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf),
			    &got), UPSTREAM_TLS_WOULD_BLOCK);
			ck_assert_uint_eq(got, (ahead ? 3 : 1) * sizeof(rec));
			ck_assert(!SSL_has_pending(cl));
		}
		/*
		 * Reading ahead, the transport was read once: no second
		 * read that could only have said "would block".
		 */
		BIO_set_callback_ex(SSL_get_rbio(cl), NULL);
		if (ahead)
			ck_assert_int_eq(reads, 1);
		ck_assert_uint_eq(BIO_ctrl_pending(SSL_get_rbio(cl)), 0);
		/* Nothing more: no bytes, would block. */
		ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf), &got),
		    UPSTREAM_TLS_WOULD_BLOCK);
		ck_assert_uint_eq(got, 0);
		/* A buffer smaller than what came: full, then the rest. */
		for (i = 0; i < 3; i++)
			ck_assert_int_eq(SSL_write(sv, rec, sizeof(rec)),
			    (int)sizeof(rec));
		if (ahead) {
			ck_assert_int_eq(tls_read_all(cl, buf, 1500, &got),
			    UPSTREAM_TLS_FULL);
			ck_assert_uint_eq(got, 1500);
			ck_assert(SSL_has_pending(cl));
			ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf),
			    &got), UPSTREAM_TLS_WOULD_BLOCK);
			ck_assert_uint_eq(got, 1500);
		} else {
			for (i = 0; i < 3; i++) {
				ck_assert_int_eq(tls_read_all(cl, buf, 1500,
				    &got), UPSTREAM_TLS_WOULD_BLOCK);
				ck_assert_uint_eq(got, sizeof(rec));
			}
		}
		/* Data, then close_notify: one read ahead, else two. */
		ck_assert_int_eq(SSL_write(sv, rec, 10), 10);
		SSL_shutdown(sv);
		if (!ahead) {
			ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf),
			    &got), UPSTREAM_TLS_WOULD_BLOCK);
			ck_assert_uint_eq(got, 10);
		}
		ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf), &got),
		    UPSTREAM_TLS_CLOSED);
		ck_assert_uint_eq(got, ahead ? 10 : 0);
		tls_pair_free(cl, sv);
	}

	/* The transport ends without close_notify: closed too. */
	tls_pair(tls, &u, &verr, 64 * 1024, &cl, &sv);
	ck_assert(tls_handshake(cl, sv));
	ck_assert_int_eq(SSL_write(sv, rec, 20), 20);
	BIO_shutdown_wr(SSL_get_wbio(sv));
	ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf), &got),
	    UPSTREAM_TLS_WOULD_BLOCK);
	ck_assert_uint_eq(got, 20);
	/* The end comes with the next read, as a socket's would. */
	ck_assert_int_eq(tls_read_all(cl, buf, sizeof(buf), &got),
	    UPSTREAM_TLS_CLOSED);
	ck_assert_uint_eq(got, 0);
	tls_pair_free(cl, sv);

	/* Bytes that are no TLS record: an error, with OpenSSL's reason. */
	tls_pair(tls, &u, &verr, 64 * 1024, &cl, &sv);
	ck_assert(tls_handshake(cl, sv));
	ck_assert_int_eq(BIO_write(SSL_get_wbio(sv), "\x17\x03\x03\x00\x05"
	    "junk!", 10), 10);
	ck_assert_int_eq(upstream_tls_read(cl, buf, sizeof(buf), &got, &err),
	    UPSTREAM_TLS_ERROR);
	ck_assert_uint_eq(got, 0);
	ck_assert_uint_ne(err, 0);
	tls_pair_free(cl, sv);
	upstream_tls_free(tls);
	config_free(&c);
}
END_TEST

/*
 * A write goes whole, or not at all when the transport is full; the
 * same bytes offered again then go.
 */
START_TEST(check_upstream_tls_write)
{
	struct config		 c;
	struct url		 u;
	struct upstream_tls	*tls;
	SSL			*cl, *sv;
	char			 req[3000], buf[4096];
	long			 verr = 0;
	int			 n;

	memset(req, 'q', sizeof(req));
	tls = tls_client(&c, &u, "localhost", 1);
	/* A transport of 2 KiB: a 3000-byte record does not fit. */
	tls_pair(tls, &u, &verr, 2048, &cl, &sv);
	ck_assert(tls_handshake(cl, sv));
	ck_assert_int_eq(upstream_tls_write(cl, req, 100), 1);
	ck_assert_int_eq(SSL_read(sv, buf, sizeof(buf)), 100);
	ck_assert_int_eq(upstream_tls_write(cl, req, sizeof(req)), 0);
	/* The server takes what arrived: part of the record. */
	n = SSL_read(sv, buf, sizeof(buf));
	ck_assert_int_le(n, 0);
	ck_assert_int_eq(SSL_get_error(sv, n), SSL_ERROR_WANT_READ);
	/* Offered again, the rest goes, and the server has all of it. */
	ck_assert_int_eq(upstream_tls_write(cl, req, sizeof(req)), 1);
	ck_assert_int_eq(SSL_read(sv, buf, sizeof(buf)), (int)sizeof(req));
	ck_assert(memcmp(buf, req, sizeof(req)) == 0);
	tls_pair_free(cl, sv);
	upstream_tls_free(tls);
	config_free(&c);
}
END_TEST

/* The suite. */
Suite *
upstream_tls_suite(void)
{
	Suite	*s = suite_create("upstream_tls");
	TCase	*tc = tcase_create("tls");

	tcase_add_unchecked_fixture(tc, tls_setup, tls_teardown);
	tcase_add_test(tc, check_upstream_tls_resumes);
	tcase_add_test(tc, check_upstream_tls_verifies);
	tcase_add_test(tc, check_upstream_tls_read);
	tcase_add_test(tc, check_upstream_tls_write);
	suite_add_tcase(s, tc);
	return (s);
}
