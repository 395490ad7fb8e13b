/*
 * fake_libevent_version: an LD_PRELOAD shim that makes the proxy see a
 * libevent it was not tested with, so the test of its refusal can run
 * without installing one.
 */
#include <stdint.h>

uint32_t	event_get_version_number(void);
const char	*event_get_version(void);

/* A version number other than 2.1.12's. */
uint32_t
event_get_version_number(void)
{
	return (0x02020100);
}

/* The matching version string. */
const char *
event_get_version(void)
{
	return ("2.2.1-alpha-dev");
}
