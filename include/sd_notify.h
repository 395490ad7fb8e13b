/*
 * sd_notify: systemd's notify protocol (Type=notify), without libsystemd.
 */
#ifndef ODP_SD_NOTIFY_H
#define ODP_SD_NOTIFY_H

int		 sd_notify_send(const char *);
unsigned	 sd_notify_watchdog_ms(void);

#endif
