/*
 * fault.h — fault injection for the tests of every error path.
 *
 * modelflags.fault_injection (superuser only) names a point in the code where
 * the next pass raises an ERROR, as a timeout, a cancel or an out-of-memory
 * would there: "point" fails every time, "point:N" fails the N-th pass only.
 * sql/fault_injection.sql drives it; in production it is empty and costs one
 * comparison per point.
 */
#ifndef MODELFLAGS_FAULT_H
#define MODELFLAGS_FAULT_H

extern char *mf_fault_injection;

extern void MfFaultInit(void);
extern void mf_fault_fire(const char *point);
extern bool mf_fault_forced_at(const char *point);

/*
 * Whether modelflags.fault_injection is "force:point": the tests' way to
 * take a path that production takes only by chance (a prune of the change
 * log).  No ERROR.
 */
#define mf_fault_forced(point) \
	(mf_fault_injection != NULL && mf_fault_injection[0] != '\0' && \
	 mf_fault_forced_at(point))

/* Raises the injected ERROR if modelflags.fault_injection names point. */
#define mf_fault(point) \
	do { \
		if (mf_fault_injection != NULL && mf_fault_injection[0] != '\0') \
			mf_fault_fire(point); \
	} while (0)

#endif
