/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PELT, per-entity load tracking: the kernel's kernel/sched/pelt.c, for the
 * BPF scheduler and, compiled as it is, for the host unit tests.
 *
 * What it measures. Time is cut into periods of 1024 us. Let u_i be the part
 * of the period i periods ago that an entity spent in some state (runnable,
 * running). PELT keeps the geometric series
 *
 *	u_0 + u_1 y + u_2 y^2 + ...	with y^32 = 1/2,
 *
 * so what happened 32 periods (~33 ms) ago counts half as much as what
 * happens now: the signal follows what an entity does lately, smoothed over
 * a few tens of ms. The series needs no ring of samples: when a period
 * rolls over, multiplying the sum by y ages everything at once. An entity
 * that was always in the state reaches 1024 * (1 + y + y^2 + ...), which in
 * the kernel's integer arithmetic is LOAD_AVG_MAX; dividing a sum by that
 * maximum turns it into an average in 0..1 (0..1024 once scaled).
 *
 * Each struct fairrs_pelt (intf.h, the kernel's struct sched_avg) carries
 * three such sums and their averages:
 *
 *	load_sum/load_avg		time runnable, times a weight
 *	runnable_sum/runnable_avg	runnable tasks, 1024 per task
 *	util_sum/util_avg		time running, 0..1024
 *
 * Who passes what to pelt_update(), as __update_load_avg_se() and
 * __update_load_avg_cfs_rq() do in the kernel:
 *
 *	a task:	load = runnable = task runnable (queued or running) ? 1 : 0,
 *		running = task on a CPU, avg_weight = the task's weight;
 *		load_avg then tends to the weight times the runnable fraction.
 *	a CPU queue: load = sum of the weights queued there (running task
 *		included), runnable = nr_running, running = a task is running
 *		there, avg_weight = 1; load_avg then tends to the average queued
 *		weight, runnable_avg to 1024 * the average nr_running.
 *
 * The arguments describe the state since the previous update, so callers
 * update before the state changes (before an enqueue, a dequeue, a context
 * switch) and then pass the new state on the next call. As in the kernel,
 * the averages are only recomputed by an update that crosses a period
 * boundary; in between they keep the value of the last such update.
 * pelt_update() is a plain read-modify-write of the struct: updates of one
 * struct must not run concurrently (keep them on its owner CPU, or under a
 * lock).
 *
 * Why this way. Everything here must pass the BPF verifier and run in BPF's
 * instruction set, yet stay the kernel's maths so the numbers read like the
 * kernel's:
 *
 *	- decay_load() is constant time: one shift for the whole half-lives
 *	  (y^32 = 1/2) and one multiply by a 32-entry table of y^n. No loop.
 *	- the kernel's mul_u64_u32_shr() is a 128-bit multiply on 64-bit
 *	  machines; BPF has no 128-bit type, so pelt_mul_u64_u32_shr32() splits
 *	  the 64-bit value into 32-bit halves (exact, see there).
 *	- an update that spans many periods costs the same as one within a
 *	  period (__accumulate_pelt_segments() sums the series in closed form).
 *	- the divisions are unsigned 64-bit, which BPF does natively.
 *
 * What differs from the kernel, on purpose:
 *
 *	- time is the plain clock in ns (converted to "us" by >> 10, 1024 ns,
 *	  as the kernel does), not clock_pelt: no frequency or CPU capacity
 *	  invariance, and idle time is not compressed.
 *	- a CPU queue's signal is tracked directly from its queued weight, as
 *	  __update_load_avg_cfs_rq() does; a migrating task's history is not
 *	  attached to or detached from the queues (attach_entity_load_avg()),
 *	  so a queue's signal ramps over ~32 ms after a migration instead.
 *	- pelt_init() starts every sum and average at zero; the kernel seeds a
 *	  new task's load_avg with its weight (init_entity_runnable_average()).
 *	  A caller that wants that can write the fields after pelt_init().
 *	- when time goes backwards (now < last_update_ns) the kernel resets
 *	  last_update_time to now; here the update is ignored. In BPF a CPU can
 *	  read the clock, lose a race to another CPU that updates the same
 *	  struct with a later timestamp, and then arrive with a stale "now":
 *	  rewinding the struct would count the same time twice.
 *
 * Overflow. Sums are u64. A task's load_sum is at most LOAD_AVG_MAX (load is
 * 0 or 1), and avg_weight * load_sum in ___update_load_avg() is at most
 * 88761 (nice -20) * 47742 < 2^33. A CPU queue's load_sum is at most
 * LOAD_AVG_MAX * sum of weights, e.g. 47742 * 1000 tasks * 88761 < 2^43,
 * with avg_weight 1. runnable_sum and util_sum carry a further << 10:
 * 47742 * 1000 * 1024 < 2^36. All far from 2^64.
 */
#ifndef __FAIRRS_PELT_BPF_H
#define __FAIRRS_PELT_BPF_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* One period, in "us" of 1024 ns (kernel/sched/pelt.c: "A period is 1024us"). */
#define PELT_PERIOD_US		1024
/* ns to "us": the kernel's delta >>= 10 in ___update_load_sum(). */
#define PELT_NS_SHIFT		10
/* Half-life in periods: y^LOAD_AVG_PERIOD = 1/2 (kernel/sched/sched-pelt.h). */
#define LOAD_AVG_PERIOD		32
/*
 * Largest value a sum of 1024-per-period contributions reaches: the fixed
 * point of x = x * y + 1024 in the integer arithmetic of pelt_decay()
 * (kernel/sched/sched-pelt.h).
 */
#define LOAD_AVG_MAX		47742
/* get_pelt_divider()'s floor: LOAD_AVG_MAX * y == LOAD_AVG_MAX - 1024. */
#define PELT_MIN_DIVIDER	(LOAD_AVG_MAX - PELT_PERIOD_US)
/* SCHED_CAPACITY_SHIFT: runnable and util sums are scaled by 1024. */
#define PELT_CAPACITY_SHIFT	10

/*
 * runnable_avg_yN_inv[n] = (2^32 - 1) * y^n, n = 0..31, rounded down
 * (kernel/sched/sched-pelt.h, generated by Documentation/scheduler/sched-pelt.c).
 * Entry 16 is (2^32 - 1) / sqrt(2), as y^16 must be.
 */
static const u32 pelt_runnable_avg_yN_inv[LOAD_AVG_PERIOD] = {
	0xffffffff, 0xfa83b2da, 0xf5257d14, 0xefe4b99a, 0xeac0c6e6, 0xe5b906e6,
	0xe0ccdeeb, 0xdbfbb796, 0xd744fcc9, 0xd2a81d91, 0xce248c14, 0xc9b9bd85,
	0xc5672a10, 0xc12c4cc9, 0xbd08a39e, 0xb8fbaf46, 0xb504f333, 0xb123f581,
	0xad583ee9, 0xa9a15ab4, 0xa5fed6a9, 0xa2704302, 0x9ef5325f, 0x9b8d39b9,
	0x9837f050, 0x94f4efa8, 0x91c3d373, 0x8ea4398a, 0x8b95c1e3, 0x88980e80,
	0x85aac367, 0x82cd8698,
};

/*
 * mul_u64_u32_shr(val, mul, 32) (include/linux/math64.h) without 128-bit
 * arithmetic. With val = hi * 2^32 + lo:
 *
 *	(val * mul) >> 32 = hi * mul + ((lo * mul) >> 32)
 *
 * exactly, since hi * mul * 2^32 has no bits below 2^32. lo * mul < 2^64,
 * and hi * mul <= the result <= val (mul < 2^32), so nothing overflows.
 */
static __always_inline u64 pelt_mul_u64_u32_shr32(u64 val, u32 mul)
{
	u64 hi = val >> 32, lo = val & 0xffffffffULL;

	return hi * mul + ((lo * mul) >> 32);
}

/*
 * val * y^n: decay_load(). y^n = (1/2)^(n / 32) * y^(n % 32), a shift and a
 * table multiply. Past 63 half-lives any u64 is gone (and a shift by 64 bits
 * would be undefined): 0. The table's y^0 is 2^32 - 1, so like the kernel a
 * whole number of half-lives still takes v = val >> (n / 32) down by
 * ceil(v / 2^32): one unit below 2^32.
 */
static __always_inline u64 pelt_decay(u64 val, u64 n)
{
	u32 local_n;

	if (n > LOAD_AVG_PERIOD * 63)
		return 0;

	/* After the bounds check n fits 32 bits. */
	local_n = (u32)n;
	if (local_n >= LOAD_AVG_PERIOD) {
		val >>= local_n / LOAD_AVG_PERIOD;
		local_n %= LOAD_AVG_PERIOD;
	}

	/* The mask is a no-op that shows the verifier the index is bounded. */
	return pelt_mul_u64_u32_shr32(val,
			pelt_runnable_avg_yN_inv[local_n & (LOAD_AVG_PERIOD - 1)]);
}

/*
 * The contribution of an update that crossed @periods >= 1 period boundaries:
 * __accumulate_pelt_segments(). @d1 is what completed the period that was
 * open at the last update, @d3 what has elapsed of the period open now; the
 * periods - 1 full periods in between sum in closed form:
 *
 *	c1 = d1 y^p
 *	c2 = 1024 \Sum_{n=1}^{p-1} y^n
 *	   = 1024 (\Sum_{n=0}^{inf} y^n - \Sum_{n=p}^{inf} y^n - y^0)
 *	   = LOAD_AVG_MAX - LOAD_AVG_MAX y^p - 1024
 *	c3 = d3 y^0
 *
 * Each term is below 1024 or LOAD_AVG_MAX, so the u32 sum cannot overflow.
 */
static __always_inline u32 pelt_accumulate_segments(u64 periods, u32 d1, u32 d3)
{
	u32 c1, c2, c3 = d3;

	c1 = (u32)pelt_decay((u64)d1, periods);
	c2 = (u32)(LOAD_AVG_MAX - pelt_decay(LOAD_AVG_MAX, periods) - PELT_PERIOD_US);

	return c1 + c2 + c3;
}

/*
 * Bring the sums forward by @delta us: accumulate_sum().
 *
 *	      d1          d2           d3
 *	      ^           ^            ^
 *	    |<->|<----------------->|<--->|
 *	... |---x---|------| ... |------|-----x (now)
 *
 *	u' = (u + d1) y^p + 1024 \Sum_{n=1}^{p-1} y^n + d3 y^0
 *	   = u y^p					(step 1: decay)
 *	     + d1 y^p + 1024 \Sum_{n=1}^{p-1} y^n + d3	(step 2: contribute)
 *
 * Relies on the caller's "if (!load) runnable = running = 0", so the
 * contribution is only computed when something will use it. Returns whether
 * a period boundary was crossed (the kernel returns the u32-truncated period
 * count, which a multiple of 2^32 periods, ~52 days, would turn to 0).
 */
static __always_inline int pelt_accumulate_sum(struct fairrs_pelt *sa, u64 delta,
					       u64 load, u64 runnable, int running)
{
	u32 contrib = (u32)delta;	/* no boundary crossed: delta < 1024 */
	u64 periods;

	delta += sa->period_contrib;
	periods = delta / PELT_PERIOD_US;

	if (periods) {
		/* Step 1: age the history by the periods crossed. */
		sa->load_sum = pelt_decay(sa->load_sum, periods);
		sa->runnable_sum = pelt_decay(sa->runnable_sum, periods);
		sa->util_sum = pelt_decay(sa->util_sum, periods);

		/* Step 2: what the interval itself contributes. */
		delta %= PELT_PERIOD_US;
		if (load)
			contrib = pelt_accumulate_segments(periods,
					PELT_PERIOD_US - sa->period_contrib, (u32)delta);
	}
	sa->period_contrib = (u32)delta;

	if (load)
		sa->load_sum += load * contrib;
	if (runnable)
		sa->runnable_sum += runnable * contrib << PELT_CAPACITY_SHIFT;
	if (running)
		sa->util_sum += (u64)contrib << PELT_CAPACITY_SHIFT;

	return periods != 0;
}

/*
 * get_pelt_divider(): the largest value a sum can have right now. A sum at
 * its maximum holds LOAD_AVG_MAX * y from the closed periods plus
 * period_contrib from the open one; LOAD_AVG_MAX * y == LOAD_AVG_MAX - 1024.
 * Dividing by LOAD_AVG_MAX instead would count the rest of the open period
 * as idle and make a 100% busy entity wobble between ~1002 and 1024.
 */
static __always_inline u32 pelt_divider(const struct fairrs_pelt *sa)
{
	return PELT_MIN_DIVIDER + sa->period_contrib;
}

/* Sums to averages: ___update_load_avg(). */
static __always_inline void pelt_update_avg(struct fairrs_pelt *sa, u64 avg_weight)
{
	u32 divider = pelt_divider(sa);

	sa->load_avg = avg_weight * sa->load_sum / divider;
	sa->runnable_avg = sa->runnable_sum / divider;
	sa->util_avg = sa->util_sum / divider;
}

/* Start tracking at @now_ns with no history. */
static __always_inline void pelt_init(struct fairrs_pelt *sa, u64 now_ns)
{
	sa->last_update_ns = now_ns;
	sa->load_sum = 0;
	sa->runnable_sum = 0;
	sa->util_sum = 0;
	sa->period_contrib = 0;
	sa->__pad = 0;
	sa->load_avg = 0;
	sa->runnable_avg = 0;
	sa->util_avg = 0;
}

/*
 * Account the time from sa->last_update_ns to @now_ns, spent in the state
 * the arguments describe (see the top of this file for tasks and queues):
 * ___update_load_sum(), then ___update_load_avg() when a period boundary
 * was crossed, as __update_load_avg_se() does.
 *
 * Only whole "us" (1024 ns) are consumed; the remainder stays before
 * last_update_ns and counts at the next update. Returns 1 when the averages
 * were recomputed, 0 otherwise (including when @now_ns is before the last
 * update, which changes nothing).
 */
static __always_inline int pelt_update(struct fairrs_pelt *sa, u64 now_ns, u64 load,
				       u64 runnable, int running, u64 avg_weight)
{
	u64 delta;

	if (now_ns < sa->last_update_ns)
		return 0;

	delta = (now_ns - sa->last_update_ns) >> PELT_NS_SHIFT;
	if (!delta)
		return 0;

	sa->last_update_ns += delta << PELT_NS_SHIFT;

	/*
	 * Running is a subset of runnable, which is a subset of load: nothing
	 * counts for an entity with no load (a dequeued entity a CPU still
	 * points at, an empty queue).
	 */
	if (!load) {
		runnable = 0;
		running = 0;
	}

	if (!pelt_accumulate_sum(sa, delta, load, runnable, running))
		return 0;

	pelt_update_avg(sa, avg_weight);
	return 1;
}

#endif /* __FAIRRS_PELT_BPF_H */
