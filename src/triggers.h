/*
 * triggers.h — the writer's side of the cache (see triggers.c).
 */
#ifndef MODELFLAGS_TRIGGERS_H
#define MODELFLAGS_TRIGGERS_H

/* Registers the transaction callbacks of writers; from _PG_init. */
extern void MfTriggersInit(void);

#endif
