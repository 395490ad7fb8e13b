/*
 * check_mempool: the size-class pool that serves libevent and jansson.
 */
#include <stdint.h>
#include <string.h>

#include "check_suites.h"
#include "mempool.h"

/*
 * A freed block is kept by class: the next allocation of that class gets
 * it back, one of another class does not, and drain empties the lists.
 */
START_TEST(check_mempool_reuse_by_class)
{
	char	*a, *b, *c, *d;

	mempool_drain(0);
	ck_assert_uint_eq(mempool_kept(), 0);
	a = mempool_alloc(20);			/* the 32-byte class */
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq((uintptr_t)a % 16, 0);
	memset(a, 'a', 20);
	mempool_free(a);
	ck_assert_uint_eq(mempool_kept(), 32);

	b = mempool_alloc(100);			/* 128: not a's block */
	ck_assert_ptr_ne(b, a);
	c = mempool_alloc(32);			/* 32: a's block again */
	ck_assert_ptr_eq(c, a);
	ck_assert_uint_eq(mempool_kept(), 0);
	memset(c, 'c', 32);
	d = mempool_alloc(33);			/* 64 */
	ck_assert_ptr_ne(d, c);
	memset(d, 'd', 33);
	mempool_free(b);
	mempool_free(c);
	mempool_free(d);
	ck_assert_uint_eq(mempool_kept(), 32 + 64 + 128);
	mempool_drain(0);
	ck_assert_uint_eq(mempool_kept(), 0);
}
END_TEST

/* Blocks over the largest class are not kept; calloc zeroes. */
START_TEST(check_mempool_large_and_zeroed)
{
	unsigned char	*p, *q;
	size_t		 i;

	mempool_drain(0);
	p = mempool_alloc(1024);		/* the largest class */
	q = mempool_alloc(1025);		/* beyond it */
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(q);
	memset(p, 0xff, 1024);
	memset(q, 0xff, 1025);
	mempool_free(q);
	ck_assert_uint_eq(mempool_kept(), 0);
	mempool_free(p);
	ck_assert_uint_eq(mempool_kept(), 1024);

	p = mempool_calloc(64, 16);		/* reuses the dirty 1 KiB block */
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 1024; i++)
		ck_assert_uint_eq(p[i], 0);
	mempool_free(p);
	ck_assert_ptr_null(mempool_calloc(SIZE_MAX / 2, 3));
	mempool_drain(0);
}
END_TEST

/* realloc keeps the bytes written, across classes and to a large block. */
START_TEST(check_mempool_realloc_keeps_bytes)
{
	char	*p, *q;
	size_t	 i;

	mempool_drain(0);
	p = mempool_realloc(NULL, 10);
	ck_assert_ptr_nonnull(p);
	memcpy(p, "0123456789", 10);
	q = mempool_realloc(p, 30);		/* same class: same block */
	ck_assert_ptr_eq(q, p);
	memcpy(q + 10, "abcdefghijklmnopqrst", 20);
	p = mempool_realloc(q, 3000);		/* large */
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(memcmp(p, "0123456789abcdefghijklmnopqrst", 30), 0);
	for (i = 30; i < 3000; i++)
		p[i] = (char)i;
	q = mempool_realloc(p, 40);		/* shrinks into the 64 class */
	ck_assert_int_eq(memcmp(q, "0123456789abcdefghijklmnopqrst", 30), 0);
	ck_assert_uint_eq((unsigned char)q[39], 39);
	ck_assert_ptr_null(mempool_realloc(q, 0));	/* frees */
	mempool_free(NULL);
	mempool_drain(0);
}
END_TEST

/* What a class keeps is bounded; the rest goes back to the system. */
START_TEST(check_mempool_keep_is_bounded)
{
	enum { N = 20000 };
	static void	*p[N];
	size_t		 i;

	mempool_drain(0);
	for (i = 0; i < N; i++)
		ck_assert_ptr_nonnull(p[i] = mempool_alloc(1000));
	for (i = 0; i < N; i++)
		mempool_free(p[i]);
	ck_assert_uint_gt(mempool_kept(), 0);
	ck_assert_uint_le(mempool_kept(), 1024 * 1024);
	mempool_drain(0);
}
END_TEST

/* The mempool suite. */
Suite *
mempool_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("mempool");
	tc = tcase_create("pool");
	tcase_add_test(tc, check_mempool_reuse_by_class);
	tcase_add_test(tc, check_mempool_large_and_zeroed);
	tcase_add_test(tc, check_mempool_realloc_keeps_bytes);
	tcase_add_test(tc, check_mempool_keep_is_bounded);
	suite_add_tcase(s, tc);
	return (s);
}
