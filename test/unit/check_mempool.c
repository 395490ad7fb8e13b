/*
 * check_mempool: the slab pool that serves libevent and jansson.
 */
#include <stdint.h>
#include <string.h>

#include "check_suites.h"
#include "mempool.h"

/* Start each case from an empty pool. */
static void
check_mempool_empty(void)
{
	ck_assert_uint_eq(mempool_drain(), 0);
	ck_assert_uint_eq(mempool_slab_bytes(), 0);
}

/*
 * A freed block is kept by class (16 bytes apart): the next allocation of
 * that class gets it back, one of another class does not.
 */
START_TEST(check_mempool_reuse_by_class)
{
	char	*a, *b, *c, *d;

	check_mempool_empty();
	a = mempool_alloc(20);			/* the 32-byte class */
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq((uintptr_t)a % 16, 0);
	memset(a, 'a', 20);
	ck_assert_uint_eq(mempool_live(), 1);
	mempool_free(a);
	ck_assert_uint_eq(mempool_live(), 0);

	b = mempool_alloc(100);			/* 112: not a's block */
	ck_assert_ptr_ne(b, a);
	c = mempool_alloc(32);			/* 32: a's block again */
	ck_assert_ptr_eq(c, a);
	memset(c, 'c', 32);
	d = mempool_alloc(33);			/* 48 */
	ck_assert_ptr_ne(d, c);
	ck_assert_uint_eq((uintptr_t)d % 16, 0);
	memset(d, 'd', 33);
	ck_assert_uint_eq(mempool_live(), 3);
	mempool_free(b);
	mempool_free(c);
	mempool_free(d);
	mempool_free(NULL);
	ck_assert_uint_eq(mempool_live(), 0);
	ck_assert_uint_eq(mempool_drain(), 0);
	ck_assert_uint_eq(mempool_slab_bytes(), 0);
}
END_TEST

/* Blocks over 256 bytes are malloc's; calloc zeroes a reused block. */
START_TEST(check_mempool_large_and_zeroed)
{
	unsigned char	*p, *q;
	size_t		 i;

	check_mempool_empty();
	q = mempool_alloc(257);
	ck_assert_ptr_nonnull(q);
	memset(q, 0xff, 257);
	ck_assert_uint_eq(mempool_live(), 0);
	ck_assert_uint_eq(mempool_slab_bytes(), 0);
	mempool_free(q);

	p = mempool_alloc(256);			/* the largest class */
	memset(p, 0xff, 256);
	mempool_free(p);
	q = mempool_calloc(16, 16);		/* the same, dirty, block */
	ck_assert_ptr_eq(q, p);
	for (i = 0; i < 256; i++)
		ck_assert_uint_eq(q[i], 0);
	mempool_free(q);
	q = mempool_calloc(100, 100);		/* large, zeroed by calloc */
	for (i = 0; i < 10000; i++)
		ck_assert_uint_eq(q[i], 0);
	mempool_free(q);
	ck_assert_ptr_null(mempool_calloc(SIZE_MAX / 2, 3));
	ck_assert_uint_eq(mempool_drain(), 0);
}
END_TEST

/* realloc keeps the bytes written, between classes and malloc's blocks. */
START_TEST(check_mempool_realloc_keeps_bytes)
{
	static const char	 s[] = "0123456789abcdefghijklmnopqrst";
	char			*p, *q;
	size_t			 i;

	check_mempool_empty();
	p = mempool_realloc(NULL, 10);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, 10);
	q = mempool_realloc(p, 16);		/* same class: same block */
	ck_assert_ptr_eq(q, p);
	memcpy(q + 10, s + 10, 6);
	p = mempool_realloc(q, 30);		/* the next class */
	ck_assert_ptr_ne(p, q);
	memcpy(p + 16, s + 16, 14);
	q = mempool_realloc(p, 3000);		/* malloc's */
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(memcmp(q, s, 30), 0);
	for (i = 30; i < 3000; i++)
		q[i] = (char)i;
	p = mempool_realloc(q, 5000);		/* realloc's */
	ck_assert_int_eq(memcmp(p, s, 30), 0);
	ck_assert_uint_eq((unsigned char)p[2999], (unsigned char)(char)2999);
	q = mempool_realloc(p, 40);		/* back into a class */
	ck_assert_int_eq(memcmp(q, s, 30), 0);
	ck_assert_uint_eq((unsigned char)q[39], 39);
	ck_assert_uint_eq(mempool_live(), 1);
	ck_assert_ptr_null(mempool_realloc(q, 0));	/* frees */
	ck_assert_uint_eq(mempool_live(), 0);
	ck_assert_uint_eq(mempool_drain(), 0);
}
END_TEST

/*
 * A class carves new slabs as it needs them; every block is its own; the
 * blocks come back on free, and drain frees the slabs only when no block
 * is in use.
 */
START_TEST(check_mempool_slabs)
{
	enum { N = 10000 };
	static char	*p[N];
	size_t		 i;

	check_mempool_empty();
	for (i = 0; i < N; i++) {
		ck_assert_ptr_nonnull(p[i] = mempool_alloc(16));
		memcpy(p[i], &i, sizeof(i));
	}
	ck_assert_uint_ge(mempool_slab_bytes(), N * 16);
	ck_assert_uint_le(mempool_slab_bytes(), N * 16 + 2 * 64 * 1024);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(memcmp(p[i], &i, sizeof(i)), 0);
	for (i = 1; i < N; i++)
		mempool_free(p[i]);
	ck_assert_uint_eq(mempool_drain(), 1);	/* p[0] is still in use */
	ck_assert_uint_gt(mempool_slab_bytes(), 0);
	mempool_free(p[0]);
	ck_assert_uint_eq(mempool_drain(), 0);
	ck_assert_uint_eq(mempool_slab_bytes(), 0);
}
END_TEST

/* The mempool suite. */
/*
 * Trimming frees the slabs with no block in use and keeps the others
 * whole: their live blocks keep their bytes, their free blocks are still
 * handed out, and allocating after a trim carves new slabs.
 */
START_TEST(check_mempool_trim_frees_empty_slabs_only)
{
	enum { N = 3000 };
	static char	*p[N];
	char		*kept, *again;
	size_t		 before, i;

	check_mempool_empty();
	for (i = 0; i < N; i++) {
		p[i] = mempool_alloc(64);	/* 64 bytes: ~1000 a slab */
		memset(p[i], (int)(i & 0xff), 64);
	}
	before = mempool_slab_bytes();
	ck_assert_uint_ge(before, 3 * 64 * 1024);
	/* Keep one block of the first slab; free all the others. */
	kept = p[0];
	for (i = 1; i < N; i++)
		mempool_free(p[i]);
	ck_assert_uint_eq(mempool_trim(), before - 64 * 1024);
	ck_assert_uint_eq(mempool_slab_bytes(), 64 * 1024);
	ck_assert_uint_eq(mempool_live(), 1);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(kept[i], 0);
	/* The kept slab's free blocks are reused before a new slab is made. */
	again = mempool_alloc(64);
	ck_assert_ptr_eq((void *)((uintptr_t)again & ~(uintptr_t)0xffff),
	    (void *)((uintptr_t)kept & ~(uintptr_t)0xffff));
	for (i = 1; i < N; i++)
		p[i] = mempool_alloc(64);
	ck_assert_uint_ge(mempool_slab_bytes(), before);
	for (i = 1; i < N; i++)
		mempool_free(p[i]);
	mempool_free(again);
	mempool_free(kept);
	/* Nothing in use: everything goes, and a second trim has nothing. */
	ck_assert_uint_gt(mempool_trim(), 0);
	ck_assert_uint_eq(mempool_slab_bytes(), 0);
	ck_assert_uint_eq(mempool_trim(), 0);
	p[0] = mempool_alloc(64);
	ck_assert_ptr_nonnull(p[0]);
	mempool_free(p[0]);
	ck_assert_uint_eq(mempool_drain(), 0);
}
END_TEST

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
	tcase_add_test(tc, check_mempool_slabs);
	tcase_add_test(tc, check_mempool_trim_frees_empty_slabs_only);
	suite_add_tcase(s, tc);
	return (s);
}
