// SPDX-License-Identifier: GPL-2.0
/*
 * dax kmem: the memory of a device-dax instance (persistent memory, a CXL
 * memory expander, soft-reserved memory) used as ordinary System RAM.
 *
 * Every device has one state machine over its memory blocks. Userspace
 * moves the whole device with daxX.Y/state; the state taken at bind comes
 * from daxX.Y/online_policy. Unbinding offlines and removes the memory;
 * what cannot be removed is retained, tracked, retried in the background
 * and re-adopted by a later bind, never silently left behind.
 * See Documentation/admin-guide/mm/dax-kmem.rst.
 *
 * Locking, outermost first:
 *
 *   device_lock(&dev_dax->dev)   driver core, around probe and remove only
 *     kmem_retained_lock         the list of retained devices
 *     kdev->lock                 every plug/unplug this driver does: probe,
 *                                remove, state_store(), the retry worker
 *       device_hotplug_lock      taken inside the two core-mm wrappers
 *         mf_mutex               memory_failure(), when core mm takes pages
 *                                from their users (a device going away)
 *         mem_hotplug_lock       taken by core mm
 *           kdev->stat_lock      block states and figures; the memory
 *                                notifier and every sysfs reader
 *
 *   dax SRCU (read)              the provider's notifications
 *     kdev->stat_lock            (kmem_notify_failure()), which take
 *                                nothing else
 *
 * The other side of that: dax_holder_unregister() waits for every dax SRCU
 * reader, and runs under device_lock and, when the provider tears the
 * device down, dax_region_rwsem: nothing under the dax SRCU read lock may
 * take those.
 *
 * kmem_retained_lock and kdev->lock are never held together: a device is
 * taken off the list first, then its worker is stopped, then it is locked.
 *
 * state_store() takes kdev->lock but never the device lock: unbind removes
 * the attribute (waiting for a running store) while holding the device lock.
 * Readers take only kdev->stat_lock, so a read never waits for a migration.
 *
 * Other writers (memoryN/state, daxctl, udev) may online and offline our
 * blocks, and the memory notifier keeps bstate[] true. While one of our own
 * whole-device transitions runs (kdev->busy), the notifier refuses their
 * MEM_GOING_ONLINE / MEM_GOING_OFFLINE with -EBUSY, so a transition sees
 * only its own changes. Its own changes are told apart by the task: core mm
 * onlines and offlines synchronously in the caller's context, so events
 * from kdev->actor are ours. A foreign change already past MEM_GOING_* when
 * a transition starts still completes (its MEM_ONLINE / MEM_OFFLINE keeps
 * bstate[] true): every transition works from the state it finds, and only
 * the snapshot an "unplugged" write rolls back to can miss it. Outside
 * transitions, a foreign online that would put a block into a kernel zone
 * is refused with -EPERM while the device's memory is movable (see
 * kmem_veto()). A device its provider may lose without warning
 * (daxX.Y/removal "surprise") gets no kernel zone at all, from anybody,
 * ours included, unless kernel_zone_surprise is set: kernel data there
 * could not be taken back when the device goes. What a loss still takes
 * from a kernel zone (that override, or failed memory of any device) is
 * kernel_loss's: a panic, or kept blocks and a taint
 * (kmem_kernel_loss_act()).
 *
 * Every offline this driver starts is bounded in time, from any loop of
 * core mm's offlining (struct mhp_offline_ctl): one attempt on one block by
 * offline_timeout_ms, all the attempts of one unbind, one state write or
 * one background retry together by unbind_timeout_ms, so an unbind takes
 * at most that long plus one quick attempt per block left; when the
 * provider is removing the device, taking the pages migration cannot move
 * from their users and offlining again add at most offline_timeout_ms to
 * that (core mm waits for no locked folio and no writeback then, but it
 * does wait for the mmu notifiers of the mappings it removes). The time
 * spent waiting for device_hotplug_lock is not bounded here: a foreign
 * offline holding it (memoryN/state has no deadline) delays us until it
 * ends or its writer is killed. Signals: a write of daxX.Y/state gives up
 * on any signal (and rolls back); an unbind ignores signals its process
 * handles, and on a fatal one hands what is left to the background worker;
 * rollbacks, the worker and the unbinds of a module being unloaded ignore
 * signals and are bounded by their deadlines alone, and so does every
 * unplug once the provider has said the device is going away: nothing
 * could retry it later (kmem_signals()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/dax.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fault-inject.h>
#include <linux/memory-tiers.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include "dax-private.h"
#include "bus.h"

#define CREATE_TRACE_POINTS
#include <trace/events/dax_kmem.h>

/* Abstract distance for a node whose platform driver did not set one. */
#define KMEM_DEFAULT_ADISTANCE	(MEMTIER_ADISTANCE_DRAM * 5)

/* First delay of the background retry of retained memory. */
#define KMEM_RETRY_FIRST_MS	1000

/* Largest value of the time parameters: one hour. */
#define KMEM_MAX_MS		3600000U

/* State of one memory block, as this driver tracks it. */
enum kmem_bstate {
	KMEM_B_UNPLUGGED,	/* not added */
	KMEM_B_OFFLINE,		/* added, offline */
	KMEM_B_KERNEL,		/* online in a kernel zone */
	KMEM_B_MOVABLE,		/* online in ZONE_MOVABLE */
	KMEM_B_MAX
};

/* State of a whole device: the words of daxX.Y/state. */
enum kmem_state {
	KMEM_S_UNPLUGGED,
	KMEM_S_OFFLINE,
	KMEM_S_ONLINE,
	KMEM_S_ONLINE_KERNEL,
	KMEM_S_ONLINE_MOVABLE,
	KMEM_S_MAX
};

static const char *const kmem_state_names[KMEM_S_MAX] = {
	[KMEM_S_UNPLUGGED] = "unplugged",
	[KMEM_S_OFFLINE] = "offline",
	[KMEM_S_ONLINE] = "online",
	[KMEM_S_ONLINE_KERNEL] = "online_kernel",
	[KMEM_S_ONLINE_MOVABLE] = "online_movable",
};

/*
 * What the provider said of the device's backing, through the dax holder
 * (kmem_notify_failure()): nothing; it is removing the device
 * (MF_MEM_PRE_REMOVE from kill_dax(): namespace destroy, region disable,
 * a CXL region going away; kmem takes it that the memory still reads);
 * or a failure of all of the memory (dax_holder_notify_failure() without
 * MF_MEM_PRE_REMOVE, over the whole device: the memory no longer reads).
 * Only fail_dax_backing sends the latter yet, in the teardown, before
 * kill_dax(). Only ever goes up: kmem_loss_merge(). A teardown makes
 * kmem_unplug_block() take the pages that migration leaves in use from
 * their users; after a failure nothing is migrated and every page in use
 * is taken. Either is acted on by every unplug of a block from then on
 * (the unbind, a state write of "unplugged", the retry worker), not
 * before one.
 */
enum kmem_loss {
	KMEM_LOSS_NONE,
	KMEM_LOSS_TEARDOWN,
	KMEM_LOSS_GONE,
	KMEM_LOSS_MAX
};

static const char *const kmem_loss_names[KMEM_LOSS_MAX] = {
	[KMEM_LOSS_NONE] = "none",
	[KMEM_LOSS_TEARDOWN] = "teardown",
	[KMEM_LOSS_GONE] = "failed",
};

/**
 * struct kmem_range - one range of a device, clipped to what can be added
 * @start: physical start: 2 MiB aligned (mhp_subblock_pages()), or memory
 *	block aligned for a device with memmap_on_memory
 * @size: bytes, a multiple of the same
 * @first: index of its first block in &kmem_dev.bstate
 * @nr: blocks it touches; the first and the last may be partial (a
 *	"sub-block" added with MHP_SUBBLOCK), the others are whole
 * @res: the parent resource ("daxX.Y") the System RAM is added under
 */
struct kmem_range {
	u64 start;
	u64 size;
	unsigned int first;
	unsigned int nr;
	struct resource *res;
};

/**
 * struct kmem_failure - what the last failed unplug said
 * @err: negative errno, 0 if nothing failed yet
 * @pfn: the page in the way, or MHP_PFN_UNKNOWN
 * @addr: physical start of the block
 * @reason: static string from core mm, or "injected"
 */
struct kmem_failure {
	int err;
	unsigned long pfn;
	u64 addr;
	const char *reason;
};

/**
 * struct kmem_dev - the memory of one device, bound or retained
 * @dev_dax: the device while bound; NULL while retained
 * @name: device name: resource name and message prefix
 * @old_names: names of earlier devices that re-adopted this memory: a
 *	reader of /proc/iomem may still hold one, they go with the device
 * @nr_old_names: entries in @old_names
 * @nid: node the memory is added to
 * @mgid: static memory group of all blocks
 * @mhp_flags: flags for every add
 * @mtype: memory tier type of @nid taken at probe
 * @lock: serialises every plug and unplug, see the top of the file
 * @nb: memory notifier keeping @bstate true
 * @retained: entry in kmem_retained while retained
 * @retry_work: background retry while retained
 * @retry_delay_ms: current backoff of @retry_work
 * @nr_ranges: entries in @ranges
 * @ranges: the device's ranges, memory block aligned
 * @nr_blocks: blocks over all ranges
 * @size: bytes over all ranges
 * @resv: the claim on the provider's memmap reservation, held from the
 *	bind that chose it until the device is freed: memory whose memmap
 *	lives there may be retained past the unbind and the provider
 * @slice: per block, the first pfn of the slice of the reservation its
 *	memmap goes in when it is added, 0 for DRAM; NULL when no block's
 *	memmap goes in the reservation (kmem_memmap_init()).
 *	@resv and @slice are written by kmem_alloc() while the device is
 *	private to the probe, and by kmem_adopt() under the adopting
 *	device's @lock; they are read under @lock, and freed with the device
 * @stat_lock: protects everything below
 * @bstate: one enum kmem_bstate per block, written by kmem_set_bstate()
 * @count: blocks per enum kmem_bstate
 * @bytes: bytes per enum kmem_bstate (blocks may be partial)
 * @want_online: the device was onlined with the word "online"
 * @movable: the device was last onlined with "online_movable"
 * @surprise: the device may go without warning (daxX.Y/removal
 *	"surprise"): no kernel zone unless kernel_zone_surprise; set at
 *	bind, before any block is added
 * @busy: a whole-device transition of ours is running
 * @actor: the task running it: its memory block changes are ours
 * @offline_attempts: unplug attempts of single blocks
 * @offline_failures: failed ones
 * @retry_seq: background retry rounds, counted at their start and at their
 *	end: odd while one runs (debugfs, for tests that read the figures
 *	between two rounds)
 * @last: the last failure
 * @loss: what the provider said of the backing while it held the device,
 *	enum kmem_loss
 * @memmap_lost_said: kmem_unplug_block() said that it reads the memmap
 *	of failed memory (once per device); under @lock
 * @dev_size: bytes of the device held, all of its ranges (kmem's @size
 *	leaves out what is not block aligned): a failure report from offset
 *	0 over that many is one of the whole device; written by kmem_hold()
 *	before the holder is published
 */
struct kmem_dev {
	struct dev_dax *dev_dax;
	const char *name;
	const char **old_names;
	unsigned int nr_old_names;
	int nid;
	int mgid;
	mhp_t mhp_flags;
	struct memory_dev_type *mtype;
	struct mutex lock;		/* see the top of the file */
	struct notifier_block nb;
	struct list_head retained;
	struct delayed_work retry_work;
	unsigned int retry_delay_ms;
	unsigned int nr_ranges;
	struct kmem_range *ranges;
	unsigned int nr_blocks;
	u64 size;
	struct dax_resv *resv;
	unsigned long *slice;

	spinlock_t stat_lock;		/* block states and figures */
	u8 *bstate;
	unsigned int count[KMEM_B_MAX];
	u64 bytes[KMEM_B_MAX];
	bool want_online;
	bool movable;
	bool surprise;
	bool busy;
	struct task_struct *actor;
	unsigned long offline_attempts;
	unsigned long offline_failures;
	unsigned long retry_seq;
	struct kmem_failure last;
	u8 loss;
	bool memmap_lost_said;
	u64 dev_size;
};

/* "System RAM (kmem)": must outlive any memory this driver fails to remove. */
static const char *kmem_res_name;
static u64 kmem_block_size;
static unsigned int kmem_block_shift;	/* memory blocks are a power of 2 */

static LIST_HEAD(kmem_retained_list);
static DEFINE_MUTEX(kmem_retained_lock);
static struct workqueue_struct *kmem_wq;
/* Memory was given up on at module unload: keep what it references. */
static bool kmem_abandoned;

static DEFINE_MUTEX(kmem_mtype_lock);
static LIST_HEAD(kmem_mtypes);

static int kmem_default_policy = DAX_ONLINE_POLICY_SYSTEM;
static unsigned int offline_timeout_ms = 10000;
static unsigned int unbind_timeout_ms = 60000;
static unsigned int unplug_retries = 3;
static bool subblock = true;
static unsigned int retry_max_delay_ms = 60000;
static bool kernel_zone_surprise;

/* What becomes of kernel memory that a device's loss takes away. */
enum kmem_kernel_loss {
	KMEM_KLOSS_PANIC,	/* as a machine check in the kernel would */
	KMEM_KLOSS_KEEP,	/* keep the blocks, taint, say it per block */
	KMEM_KLOSS_MAX
};

static const char *const kmem_kernel_loss_names[KMEM_KLOSS_MAX] = {
	[KMEM_KLOSS_PANIC] = "panic",
	[KMEM_KLOSS_KEEP] = "keep",
};

static int kernel_loss = KMEM_KLOSS_PANIC;

static int kmem_policy_set(const char *val, const struct kernel_param *kp)
{
	int policy = sysfs_match_string(dax_online_policy_names, val);

	/* "default" means "the module's default": not a default itself */
	if (policy <= DAX_ONLINE_POLICY_DEFAULT)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, policy);
	return 0;
}

static int kmem_policy_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  dax_online_policy_names[READ_ONCE(*(int *)kp->arg)]);
}

static const struct kernel_param_ops kmem_policy_ops = {
	.set = kmem_policy_set,
	.get = kmem_policy_get,
};

module_param_cb(online_policy, &kmem_policy_ops, &kmem_default_policy, 0644);
MODULE_PARM_DESC(online_policy,
		 "State of a device's memory at bind when its online_policy is \"default\": system (follow auto_online_blocks), unplugged, offline, online, online_kernel, online_movable");
/* Time parameters: 1 ms to an hour; there is no "no bound". */
static int kmem_ms_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, KMEM_MAX_MS);
}

static const struct kernel_param_ops kmem_ms_ops = {
	.set = kmem_ms_set,
	.get = param_get_uint,
};

module_param_cb(offline_timeout_ms, &kmem_ms_ops, &offline_timeout_ms, 0644);
MODULE_PARM_DESC(offline_timeout_ms,
		 "Give up offlining one memory block after this long (1-3600000)");
module_param_cb(unbind_timeout_ms, &kmem_ms_ops, &unbind_timeout_ms, 0644);
MODULE_PARM_DESC(unbind_timeout_ms,
		 "Budget of one unbind, state write or background retry for all its blocks (1-3600000)");
module_param(unplug_retries, uint, 0644);
MODULE_PARM_DESC(unplug_retries,
		 "Attempts per memory block without progress when unbinding");
module_param_cb(retry_max_delay_ms, &kmem_ms_ops, &retry_max_delay_ms, 0644);
MODULE_PARM_DESC(retry_max_delay_ms,
		 "Longest backoff of the background removal of retained memory");

module_param(subblock, bool, 0644);
MODULE_PARM_DESC(subblock,
		 "Add the parts of memory blocks at a range's ends too (2 MiB granules), read at bind; default Y (N: whole memory blocks only)");

module_param(kernel_zone_surprise, bool, 0644);
MODULE_PARM_DESC(kernel_zone_surprise,
		 "Let memory of a device that may go without warning (daxX.Y/removal \"surprise\") be onlined into a kernel zone; default N");

static int kmem_kernel_loss_set(const char *val, const struct kernel_param *kp)
{
	int policy = sysfs_match_string(kmem_kernel_loss_names, val);

	if (policy < 0)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, policy);
	return 0;
}

static int kmem_kernel_loss_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  kmem_kernel_loss_names[READ_ONCE(*(int *)kp->arg)]);
}

static const struct kernel_param_ops kmem_kernel_loss_ops = {
	.set = kmem_kernel_loss_set,
	.get = kmem_kernel_loss_get,
};

module_param_cb(kernel_loss, &kmem_kernel_loss_ops, &kernel_loss, 0644);
MODULE_PARM_DESC(kernel_loss,
		 "Kernel-zone memory that a device's loss takes away: panic (default) or keep (taint, log, keep the blocks)");

/* ---- block bookkeeping ------------------------------------------------ */

/* The range that holds block @idx. */
static struct kmem_range *kmem_range_of(struct kmem_dev *kdev, unsigned int idx)
{
	struct kmem_range *r = kdev->ranges;

	while (idx >= r->first + r->nr)
		r++;
	return r;
}

/*
 * The part of block @idx that is the device's: [*@addr, *@addr + return).
 * Whole memory blocks, except at the ends of a range.
 */
static u64 kmem_block_span(struct kmem_dev *kdev, unsigned int idx, u64 *addr)
{
	struct kmem_range *r = kmem_range_of(kdev, idx);
	u64 block = ALIGN_DOWN(r->start, kmem_block_size) +
		    (u64)(idx - r->first) * kmem_block_size;
	u64 start = max(block, r->start);
	u64 end = min(block + kmem_block_size, r->start + r->size);

	*addr = start;
	return end - start;
}

static u64 kmem_block_addr(struct kmem_dev *kdev, unsigned int idx)
{
	u64 addr;

	kmem_block_span(kdev, idx, &addr);
	return addr;
}

static u64 kmem_block_len(struct kmem_dev *kdev, unsigned int idx)
{
	u64 addr;

	return kmem_block_span(kdev, idx, &addr);
}

/* The pages one memory block's memmap takes. */
static unsigned long kmem_memmap_pages(void)
{
	return PFN_UP(PHYS_PFN(kmem_block_size) * sizeof(struct page));
}

/* The one setter of bstate[]; keeps count[] and bytes[] in step. */
static void kmem_set_bstate(struct kmem_dev *kdev, unsigned int idx,
			    enum kmem_bstate new)
{
	u64 len = kmem_block_len(kdev, idx);

	lockdep_assert_held(&kdev->stat_lock);
	kdev->count[kdev->bstate[idx]]--;
	kdev->bytes[kdev->bstate[idx]] -= len;
	kdev->count[new]++;
	kdev->bytes[new] += len;
	kdev->bstate[idx] = new;
}

static enum kmem_bstate kmem_bstate(struct kmem_dev *kdev, unsigned int idx)
{
	enum kmem_bstate state;

	spin_lock(&kdev->stat_lock);
	state = kdev->bstate[idx];
	spin_unlock(&kdev->stat_lock);
	return state;
}

static unsigned int kmem_nr_present(struct kmem_dev *kdev)
{
	unsigned int nr;

	spin_lock(&kdev->stat_lock);
	nr = kdev->nr_blocks - kdev->count[KMEM_B_UNPLUGGED];
	spin_unlock(&kdev->stat_lock);
	return nr;
}

/* Index of the block holding @addr, or -1 if it is not ours. */
static int kmem_block_of(struct kmem_dev *kdev, u64 addr)
{
	unsigned int i;

	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];

		if (addr >= r->start && addr - r->start < r->size)
			return r->first + (addr >> kmem_block_shift) -
			       (r->start >> kmem_block_shift);
	}
	return -1;
}

/* The bytes present of the range @r of @kdev. */
static u64 kmem_range_present(struct kmem_dev *kdev, struct kmem_range *r)
{
	unsigned int idx, end = r->first + r->nr;
	u64 bytes = 0;

	spin_lock(&kdev->stat_lock);
	for (idx = r->first; idx < end; idx++)
		if (kdev->bstate[idx] != KMEM_B_UNPLUGGED)
			bytes += kmem_block_len(kdev, idx);
	spin_unlock(&kdev->stat_lock);
	return bytes;
}

/* Bytes present, over every range. */
static u64 kmem_present(struct kmem_dev *kdev)
{
	u64 bytes;

	spin_lock(&kdev->stat_lock);
	bytes = kdev->size - kdev->bytes[KMEM_B_UNPLUGGED];
	spin_unlock(&kdev->stat_lock);
	return bytes;
}

static struct kmem_failure kmem_last_failure(struct kmem_dev *kdev)
{
	struct kmem_failure f;

	spin_lock(&kdev->stat_lock);
	f = kdev->last;
	spin_unlock(&kdev->stat_lock);
	return f;
}

/*
 * kmem_loss_merge - what is known of the backing after a notification
 * @had: what was known before, enum kmem_loss
 * @mf_flags: the notification's memory-failure flags
 * @whole: the notification covers the whole device
 *
 * MF_MEM_PRE_REMOVE is a teardown (the provider does not say whether the
 * memory still reads; kmem takes it that it does). Anything else over the
 * whole device is a failure of the backing itself; a failure of a part
 * is no news of the device (its pages are left to the provider). A loss
 * is never taken back, and a failure outranks a teardown.
 */
static enum kmem_loss kmem_loss_merge(enum kmem_loss had, int mf_flags,
				      bool whole)
{
	enum kmem_loss now = KMEM_LOSS_NONE;

	if (mf_flags & MF_MEM_PRE_REMOVE)
		now = KMEM_LOSS_TEARDOWN;
	else if (whole)
		now = KMEM_LOSS_GONE;
	return max(had, now);
}

static enum kmem_loss kmem_loss_read(struct kmem_dev *kdev)
{
	enum kmem_loss loss;

	spin_lock(&kdev->stat_lock);
	loss = kdev->loss;
	spin_unlock(&kdev->stat_lock);
	return loss;
}

/*
 * The provider's word on the backing (dax_holder_register()): kill_dax()
 * in the provider's teardown, before the device leaves the bus, says
 * MF_MEM_PRE_REMOVE over the whole device. Runs under the dax SRCU read
 * lock, maybe with the provider's locks held (unregister_dev_dax() holds
 * dax_region_rwsem): records the news under kdev->stat_lock and takes no
 * other lock. The device is this driver's until the unregister in
 * dev_dax_kmem_remove() or the probe's error path, which waits for this.
 * Return: 0 for the teardown; -EOPNOTSUPP for a failure of the memory:
 * one of the whole device is recorded, and acted on by the next unplug of
 * each block, one of a part is not; either way the caller may fall back
 * to its own handling meanwhile.
 */
static int kmem_notify_failure(struct dax_device *dax_dev, u64 off, u64 len,
			       int mf_flags)
{
	struct kmem_dev *kdev = dax_holder(dax_dev);
	enum kmem_loss had, now;

	if (!kdev)
		return -ENXIO;
	spin_lock(&kdev->stat_lock);
	had = kdev->loss;
	now = kmem_loss_merge(had, mf_flags, !off && len >= kdev->dev_size);
	kdev->loss = now;
	spin_unlock(&kdev->stat_lock);
	trace_dax_kmem_loss(kdev->name, kmem_loss_names[now], off, len,
			    mf_flags);
	if (now != had)
		pr_info("%s: %s\n", kdev->name, now == KMEM_LOSS_TEARDOWN ?
			"the provider is removing the device" :
			"the provider reports a failure of the device's memory");
	return mf_flags & MF_MEM_PRE_REMOVE ? 0 : -EOPNOTSUPP;
}

static const struct dax_holder_operations kmem_holder_ops = {
	.notify_failure = kmem_notify_failure,
};

/* The device state derived from its blocks; needs kdev->stat_lock. */
static enum kmem_state kmem_state_of(struct kmem_dev *kdev)
{
	unsigned int present = kdev->nr_blocks - kdev->count[KMEM_B_UNPLUGGED];
	unsigned int kernel = kdev->count[KMEM_B_KERNEL];
	unsigned int movable = kdev->count[KMEM_B_MOVABLE];

	lockdep_assert_held(&kdev->stat_lock);
	if (!present)
		return KMEM_S_UNPLUGGED;
	if (!kernel && !movable)
		return KMEM_S_OFFLINE;
	if (!kdev->want_online && movable == present)
		return KMEM_S_ONLINE_MOVABLE;
	if (!kdev->want_online && kernel == present)
		return KMEM_S_ONLINE_KERNEL;
	return KMEM_S_ONLINE;
}

static enum kmem_state kmem_state(struct kmem_dev *kdev)
{
	enum kmem_state state;

	spin_lock(&kdev->stat_lock);
	state = kmem_state_of(kdev);
	spin_unlock(&kdev->stat_lock);
	return state;
}

static enum mmop kmem_state_mmop(enum kmem_state state)
{
	switch (state) {
	case KMEM_S_ONLINE:
		return MMOP_ONLINE;
	case KMEM_S_ONLINE_KERNEL:
		return MMOP_ONLINE_KERNEL;
	case KMEM_S_ONLINE_MOVABLE:
		return MMOP_ONLINE_MOVABLE;
	default:
		return MMOP_OFFLINE;
	}
}

static enum mmop kmem_bstate_mmop(enum kmem_bstate state)
{
	switch (state) {
	case KMEM_B_KERNEL:
		return MMOP_ONLINE_KERNEL;
	case KMEM_B_MOVABLE:
		return MMOP_ONLINE_MOVABLE;
	default:
		return MMOP_OFFLINE;
	}
}

/*
 * Whether the device's memory is movable: it was last onlined
 * online_movable, or all of its online memory is in ZONE_MOVABLE. Needs
 * kdev->stat_lock.
 */
static bool kmem_movable(struct kmem_dev *kdev)
{
	lockdep_assert_held(&kdev->stat_lock);
	return kdev->movable ||
	       (kdev->count[KMEM_B_MOVABLE] && !kdev->count[KMEM_B_KERNEL]);
}

/*
 * Whether an online of a block of @kdev into @zone is refused because the
 * device may go without warning: kernel data in it (slab, page tables,
 * stacks) could neither move nor be taken from its users then. Needs
 * kdev->stat_lock.
 */
static bool kmem_surprise_refuses(struct kmem_dev *kdev, unsigned long action,
				  enum zone_type zone)
{
	lockdep_assert_held(&kdev->stat_lock);
	return action == MEM_GOING_ONLINE && zone != ZONE_MOVABLE &&
	       kdev->surprise && !READ_ONCE(kernel_zone_surprise);
}

/*
 * kmem_online_type - the online type of a transition of ours to @want
 *
 * "online" lets the kernel pick the zone, among ZONE_MOVABLE only for a
 * device that may go without warning (kmem_surprise_refuses()).
 * "online_kernel" of such a device is refused before any block changes:
 * see kmem_want_refused().
 */
static enum mmop kmem_online_type(struct kmem_dev *kdev, enum kmem_state want)
{
	enum mmop type = kmem_state_mmop(want);

	spin_lock(&kdev->stat_lock);
	if (type == MMOP_ONLINE &&
	    kmem_surprise_refuses(kdev, MEM_GOING_ONLINE, ZONE_NORMAL))
		type = MMOP_ONLINE_MOVABLE;
	spin_unlock(&kdev->stat_lock);
	return type;
}

/*
 * kmem_want_refused - -EPERM for "online_kernel" of a device that may go
 * without warning, said once in the log per refusal; 0 otherwise
 */
static int kmem_want_refused(struct kmem_dev *kdev, enum kmem_state want)
{
	bool refused;

	if (want != KMEM_S_ONLINE_KERNEL)
		return 0;
	spin_lock(&kdev->stat_lock);
	refused = kmem_surprise_refuses(kdev, MEM_GOING_ONLINE, ZONE_NORMAL);
	spin_unlock(&kdev->stat_lock);
	if (!refused)
		return 0;
	pr_info_ratelimited("%s: online_kernel refused: the device may go without warning (kmem.kernel_zone_surprise=N)\n",
			    kdev->name);
	return -EPERM;
}

/*
 * kmem_veto - whether @task may online or offline a block of ours now
 *
 * Called for MEM_GOING_ONLINE / MEM_GOING_OFFLINE of a block of ours, with
 * kdev->stat_lock held. Once the provider has said that the device is
 * going away or that its memory failed (kdev->loss), no block of it goes
 * online again, by anybody: the memory may no longer decode, and what a
 * loss left present (retained, waiting for its users to let go) is only
 * ever to be removed. While a transition of ours runs, only its own task
 * changes our blocks: another writer would be seen (and rolled back over)
 * by a transition that did not make the change. The transition's own
 * changes all go: it asks for no kernel zone that kmem_surprise_refuses()
 * forbids (kmem_want_refused() and kmem_online_type() see to that before
 * it starts), and a rollback must be able to put back a block that was
 * in a kernel zone. Outside transitions, a device that may go without
 * warning gets no kernel zone (kmem_surprise_refuses()), and memory of a
 * movable device stays movable: a plain "online" (or "online_kernel") of
 * one of its blocks would put it into a kernel zone, where the node's own
 * kernel allocations land and keep it from ever being removed
 * (kmem_movable() says when a device is movable). *@why says why a
 * change is refused.
 * Return: 0, or the negative errno the writer gets.
 */
static int kmem_veto(struct kmem_dev *kdev, unsigned long action,
		     enum zone_type zone, struct task_struct *task,
		     const char **why)
{
	lockdep_assert_held(&kdev->stat_lock);
	if (action == MEM_GOING_ONLINE && kdev->loss != KMEM_LOSS_NONE) {
		*why = "the device is going away or its memory failed";
		return -ENXIO;
	}
	if (kdev->busy) {
		*why = "a transition of the device is running";
		return task == kdev->actor ? 0 : -EBUSY;
	}
	if (kmem_surprise_refuses(kdev, action, zone)) {
		*why = "the device may go without warning (kmem.kernel_zone_surprise=N)";
		return -EPERM;
	}
	*why = "the device's memory is movable";
	if (action != MEM_GOING_ONLINE || zone == ZONE_MOVABLE)
		return 0;
	return kmem_movable(kdev) ? -EPERM : 0;
}

/*
 * Memory notifier: a block of ours goes or went online or offline, by us
 * or by anybody else (memoryN/state, daxctl, udev). Called with
 * device_hotplug_lock and mem_hotplug_lock held; takes only
 * kdev->stat_lock. MEM_ONLINE / MEM_OFFLINE keep bstate[] true; the
 * MEM_GOING_* events are where foreign changes are refused.
 */
static int kmem_memory_notify(struct notifier_block *nb, unsigned long action,
			      void *arg)
{
	struct kmem_dev *kdev = container_of(nb, struct kmem_dev, nb);
	struct memory_notify *mn = arg;
	enum zone_type zone = ZONE_MOVABLE;
	const char *why = "";
	enum kmem_bstate new;
	int idx, rc = 0;

	switch (action) {
	case MEM_GOING_ONLINE:
	case MEM_GOING_OFFLINE:
	case MEM_ONLINE:
	case MEM_OFFLINE:
		break;
	default:
		return NOTIFY_OK;
	}
	idx = kmem_block_of(kdev, PFN_PHYS(mn->start_pfn));
	if (idx < 0)
		return NOTIFY_OK;
	/* the pages are in their zone from MEM_GOING_ONLINE on */
	if (action != MEM_OFFLINE)
		zone = zone_idx(page_zone(pfn_to_page(mn->start_pfn)));

	spin_lock(&kdev->stat_lock);
	/* blocks we are not adding are none of our business */
	if (kdev->bstate[idx] == KMEM_B_UNPLUGGED)
		goto out;
	if (action == MEM_GOING_ONLINE || action == MEM_GOING_OFFLINE) {
		rc = kmem_veto(kdev, action, zone, current, &why);
		goto out;
	}
	new = KMEM_B_OFFLINE;
	if (action == MEM_ONLINE)
		new = zone == ZONE_MOVABLE ? KMEM_B_MOVABLE : KMEM_B_KERNEL;
	kmem_set_bstate(kdev, idx, new);
out:
	spin_unlock(&kdev->stat_lock);
	if (rc)
		pr_info_ratelimited("%s: block %#llx: %s refused (%d): %s\n",
				    kdev->name, kmem_block_addr(kdev, idx),
				    action == MEM_GOING_ONLINE ? "online" : "offline",
				    rc, why);
	return notifier_from_errno(rc);
}

/*
 * Mark the start and the end of a whole-device transition of ours, run by
 * the current task. Must be called with kdev->lock held.
 */
static void kmem_set_busy(struct kmem_dev *kdev, bool busy)
{
	lockdep_assert_held(&kdev->lock);
	spin_lock(&kdev->stat_lock);
	kdev->busy = busy;
	kdev->actor = busy ? current : NULL;
	spin_unlock(&kdev->stat_lock);
}

/*
 * Start a transition that may have to put every block back: mark it busy
 * and return a copy of bstate[] to undo to (kfree() it), or NULL without
 * memory (nothing started then). Must be called with kdev->lock held.
 */
static u8 *kmem_begin_undoable(struct kmem_dev *kdev)
{
	u8 *old = kmalloc(kdev->nr_blocks, GFP_KERNEL);

	if (!old)
		return NULL;
	kmem_set_busy(kdev, true);
	spin_lock(&kdev->stat_lock);
	memcpy(old, kdev->bstate, kdev->nr_blocks);
	spin_unlock(&kdev->stat_lock);
	return old;
}

/* A transition reached @want: reads say so from now on. */
static void kmem_reached(struct kmem_dev *kdev, enum kmem_state want)
{
	spin_lock(&kdev->stat_lock);
	kdev->want_online = want == KMEM_S_ONLINE;
	kdev->movable = want == KMEM_S_ONLINE_MOVABLE;
	spin_unlock(&kdev->stat_lock);
}

/*
 * The jiffies by which something that starts at @now and has @ms
 * milliseconds must end; never 0, which means "no bound" to core mm.
 */
static unsigned long kmem_deadline_at(unsigned long now, unsigned int ms)
{
	return now + msecs_to_jiffies(ms) ?: 1;
}

static unsigned long kmem_deadline(unsigned int ms)
{
	return kmem_deadline_at(jiffies, ms);
}

/* A pfn as sysfs files and messages show it: hexadecimal, or "unknown". */
struct kmem_pfn_str {
	char s[24];
};

static const char *kmem_pfn(unsigned long pfn, struct kmem_pfn_str *buf)
{
	if (pfn == MHP_PFN_UNKNOWN)
		return "unknown";
	snprintf(buf->s, sizeof(buf->s), "%#lx", pfn);
	return buf->s;
}

/* ---- the two core-mm wrappers ------------------------------------------ */

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * Fault injection (Documentation/fault-injection): fail_dax_kmem/ in debugfs
 * holds the usual attributes (probability, interval, times, space, verbose,
 * ...) and "block", the physical address of the one memory block whose
 * plug and unplug may fail, or all ones (the default) for every block. Only
 * calls for a block that passes the filter reach should_fail(), so only
 * they count for interval and times; plug and unplug share the counters. A
 * failed plug is -EBUSY; a failed unplug is -EBUSY with reason "injected"
 * and the block's first pfn as the page in the way.
 */
static DECLARE_FAULT_ATTR(kmem_fail_attr);
static u64 kmem_fail_block = U64_MAX;
static struct dentry *kmem_fail_dir;

static bool kmem_inject(u64 addr)
{
	u64 block = READ_ONCE(kmem_fail_block);

	if (block != U64_MAX && block != addr)
		return false;
	return should_fail(&kmem_fail_attr, kmem_block_size);
}

static void kmem_fail_init(void)
{
	kmem_fail_dir = fault_create_debugfs_attr("fail_dax_kmem", NULL,
						  &kmem_fail_attr);
	debugfs_create_x64("block", 0600, kmem_fail_dir, &kmem_fail_block);
}

static void kmem_fail_exit(void)
{
	debugfs_remove_recursive(kmem_fail_dir);
}
#else
static bool kmem_inject(u64 addr)
{
	return false;
}

static void kmem_fail_init(void)
{
}

static void kmem_fail_exit(void)
{
}
#endif

/*
 * Whether the memmap of block @idx may lie on the device: in a slice of
 * its reservation, or on the block itself (memmap "memory", which the core
 * honours only with memory_hotplug.memmap_on_memory set, and only where
 * the block can hold it). After an adoption, a block still present from
 * before keeps the memmap it was added with, which this may not tell.
 * Needs kdev->lock.
 */
static bool kmem_memmap_on_device(struct kmem_dev *kdev, unsigned int idx)
{
	lockdep_assert_held(&kdev->lock);
	return ((kdev->mhp_flags & MHP_MEMMAP_ON_MEMORY) &&
		mhp_supports_memmap_on_memory()) ||
	       (kdev->slice && kdev->slice[idx]);
}

/*
 * kmem_plug_block - add one block and online it as @type
 *
 * Must be called with kdev->lock held and device_hotplug_lock not held.
 * Return: 0 if the block was added (it may still have failed to online:
 * check bstate), a negative errno if it was not.
 */
static int kmem_plug_block(struct kmem_dev *kdev, unsigned int idx,
			   enum mmop type)
{
	u64 addr, len = kmem_block_span(kdev, idx, &addr);
	struct vmem_altmap slice = {
		.base_pfn = kdev->slice ? kdev->slice[idx] : 0,
		.free = kmem_memmap_pages(),
	};
	mhp_t flags = kdev->mhp_flags;
	int rc;

	lockdep_assert_held(&kdev->lock);
	if (WARN_ON_ONCE(kmem_bstate(kdev, idx) != KMEM_B_UNPLUGGED))
		return -EEXIST;
	if (len != kmem_block_size)
		flags |= MHP_SUBBLOCK;

	/* present before it exists, so the notifier tracks its onlining */
	spin_lock(&kdev->stat_lock);
	kmem_set_bstate(kdev, idx, KMEM_B_OFFLINE);
	spin_unlock(&kdev->stat_lock);
	if (kmem_inject(addr))
		rc = -EBUSY;
	else
		rc = add_memory_driver_managed(kdev->mgid, addr, len,
					       kmem_res_name, flags, type,
					       slice.base_pfn ? &slice : NULL);
	spin_lock(&kdev->stat_lock);
	if (rc)
		kmem_set_bstate(kdev, idx, KMEM_B_UNPLUGGED);
	spin_unlock(&kdev->stat_lock);
	trace_dax_kmem_block(kdev->name, addr, "plug", rc);
	return rc;
}

/*
 * kmem_unplug_block - offline (if needed) and remove one block
 *
 * Must be called with kdev->lock held and device_hotplug_lock not held.
 * Takes at most offline_timeout_ms migrating pages, and never past @end
 * (jiffies): after it, only a block with nothing left to migrate goes.
 * Once the provider has said that the device is going away (kdev->loss),
 * the pages migration cannot move are taken from their users (core mm's
 * revocation, struct mhp_offline_ctl.revoke_deadline) and offlining goes
 * on, within offline_timeout_ms more; once it has said that the memory
 * failed, nothing is migrated and every page in use that can be taken is
 * (struct mhp_offline_ctl.unreadable; the memmap is still read, which an
 * error line says once when it lies on the device). @signals says which
 * signals abort it, none once the device is lost. On failure the block is
 * back in the state it was in (pages taken stay taken) and kdev->last says
 * why. Return: 0 or a negative errno.
 */
static int kmem_unplug_block(struct kmem_dev *kdev, unsigned int idx,
			     unsigned long end,
			     enum mhp_offline_signals signals)
{
	unsigned int timeout_ms = READ_ONCE(offline_timeout_ms);
	unsigned long deadline = kmem_deadline(timeout_ms);
	enum kmem_loss loss = kmem_loss_read(kdev);
	struct mhp_offline_ctl ctl = {
		.signals = loss == KMEM_LOSS_NONE ? signals :
			   MHP_OFFLINE_SIGNAL_NONE,
	};
	u64 addr, len = kmem_block_span(kdev, idx, &addr);
	int rc;

	lockdep_assert_held(&kdev->lock);
	if (kmem_bstate(kdev, idx) == KMEM_B_UNPLUGGED)
		return 0;

	ctl.deadline = time_before(end, deadline) ? end : deadline;
	/* 0 would mean "do not revoke" */
	if (loss != KMEM_LOSS_NONE)
		ctl.revoke_deadline = ctl.deadline +
				      msecs_to_jiffies(timeout_ms) ?: 1;
	ctl.unreadable = loss == KMEM_LOSS_GONE;
	/*
	 * Offlining reads the memmap: nothing better can be done with failed
	 * memory than to remove it all the same, but say what that risks.
	 */
	if (ctl.unreadable && !kdev->memmap_lost_said &&
	    kmem_memmap_on_device(kdev, idx)) {
		kdev->memmap_lost_said = true;
		pr_err("%s: the memmap of the failed memory is on the device: removing the memory reads it\n",
		       kdev->name);
	}
	if (kmem_inject(addr)) {
		rc = -EBUSY;
		ctl.reason = "injected";
		ctl.fail_pfn = PHYS_PFN(addr);
	} else {
		rc = offline_and_remove_memory_bounded(addr, len, &ctl);
	}

	spin_lock(&kdev->stat_lock);
	kdev->offline_attempts++;
	if (!rc) {
		kmem_set_bstate(kdev, idx, KMEM_B_UNPLUGGED);
	} else {
		kdev->offline_failures++;
		kdev->last.err = rc;
		kdev->last.pfn = ctl.fail_pfn;
		kdev->last.addr = addr;
		kdev->last.reason = ctl.reason ?: "unknown";
	}
	spin_unlock(&kdev->stat_lock);
	if (ctl.revoked && ctl.unreadable)
		pr_warn("%s: block %#llx: %lu pages in use taken from their users, as the device's memory failed\n",
			kdev->name, addr, ctl.revoked);
	else if (ctl.revoked)
		pr_warn("%s: block %#llx: %lu pages that could not be migrated taken from their users, as the provider is removing the device\n",
			kdev->name, addr, ctl.revoked);
	trace_dax_kmem_block(kdev->name, addr, "unplug", rc);
	return rc;
}

/* ---- whole-device transitions ------------------------------------------ */

/*
 * kmem_plug_all - add every block and online it as @want says, or nothing
 *
 * Must be called with kdev->lock held, with no block present. On failure
 * whatever was added is removed again, ignoring signals, within
 * unbind_timeout_ms; what that cannot remove stays present (the caller
 * reads the state). Return: 0, the errno of the add that failed, or -EIO
 * if a block would not online.
 */
static int kmem_plug_all(struct kmem_dev *kdev, enum kmem_state want)
{
	enum mmop type = kmem_online_type(kdev, want);
	unsigned int idx;
	unsigned long end;
	int rc = 0;

	lockdep_assert_held(&kdev->lock);
	kmem_set_busy(kdev, true);
	for (idx = 0; idx < kdev->nr_blocks; idx++) {
		rc = kmem_plug_block(kdev, idx, type);
		if (rc)
			break;
		/* nobody else can offline it while we are busy */
		if (type != MMOP_OFFLINE &&
		    kmem_bstate(kdev, idx) == KMEM_B_OFFLINE) {
			rc = -EIO;
			break;
		}
	}
	if (!rc) {
		/* reads say the target only once it is reached */
		kmem_reached(kdev, want);
		kmem_set_busy(kdev, false);
		return 0;
	}

	pr_warn("%s: block %#llx: %s failed (%d), removing the device's memory again\n",
		kdev->name, kmem_block_addr(kdev, idx),
		rc == -EIO ? "online" : "add", rc);
	/* from the top: the block that would not online is present too */
	end = kmem_deadline(READ_ONCE(unbind_timeout_ms));
	idx = kdev->nr_blocks;
	while (idx--) {
		if (kmem_unplug_block(kdev, idx, end, MHP_OFFLINE_SIGNAL_NONE))
			pr_err("%s: block %#llx: rollback failed, the block stays\n",
			       kdev->name, kmem_block_addr(kdev, idx));
	}
	kmem_set_busy(kdev, false);
	return rc;
}

/*
 * kmem_unplug_all - offline and remove every block, or none
 *
 * Must be called with kdev->lock held. Gives up on any signal and after
 * unbind_timeout_ms in all. On failure, every block removed so far is
 * added back in the zone it was in. Return: 0 or the errno of the block
 * that could not go.
 */
static int kmem_unplug_all(struct kmem_dev *kdev)
{
	unsigned long end = kmem_deadline(READ_ONCE(unbind_timeout_ms));
	unsigned int idx = kdev->nr_blocks, failed;
	u8 *old;
	int rc = 0;

	lockdep_assert_held(&kdev->lock);
	old = kmem_begin_undoable(kdev);
	if (!old)
		return -ENOMEM;

	/* from the top, so ZONE_MOVABLE shrinks from its end */
	while (idx--) {
		rc = kmem_unplug_block(kdev, idx, end, MHP_OFFLINE_SIGNAL_ANY);
		if (rc)
			break;
	}
	if (!rc) {
		kmem_reached(kdev, KMEM_S_UNPLUGGED);
		goto out;
	}

	failed = idx;
	/* the device is going away: what went stays gone */
	if (kmem_loss_read(kdev) != KMEM_LOSS_NONE)
		goto out;
	for (idx = failed + 1; idx < kdev->nr_blocks; idx++) {
		if (old[idx] == KMEM_B_UNPLUGGED)
			continue;
		if (kmem_plug_block(kdev, idx, kmem_bstate_mmop(old[idx])) ||
		    kmem_bstate(kdev, idx) != old[idx])
			pr_err("%s: block %#llx: could not be put back as it was\n",
			       kdev->name, kmem_block_addr(kdev, idx));
	}
out:
	kmem_set_busy(kdev, false);
	kfree(old);
	return rc;
}

/* Whether some block is unplugged or offline: an online reading is partial. */
static bool kmem_incomplete(struct kmem_dev *kdev)
{
	bool partial;

	spin_lock(&kdev->stat_lock);
	partial = kdev->count[KMEM_B_UNPLUGGED] || kdev->count[KMEM_B_OFFLINE];
	spin_unlock(&kdev->stat_lock);
	return partial;
}

/*
 * kmem_complete - make every block what the online reading @want says
 *
 * For a write of the online word the state already reads while not every
 * block is online: "online" also reads for a device with some blocks
 * offline, and any online word for one with blocks unplugged (re-adopted
 * memory whose policy added nothing, an add that failed). Unplugged blocks
 * are added and onlined; offline ones are removed and added again onlined
 * (a driver cannot online a present block itself). "online" lets the
 * kernel pick the zone, but not for a movable device: its blocks go back
 * to ZONE_MOVABLE, as kmem_veto() asks of everybody else. On failure every
 * block changed is put back as it was, within unbind_timeout_ms and
 * ignoring signals. Must be called with kdev->lock held. Return: 0 or the
 * errno.
 */
static int kmem_complete(struct kmem_dev *kdev, enum kmem_state want)
{
	enum mmop type = kmem_online_type(kdev, want);
	unsigned int idx, i;
	unsigned long end;
	u8 *old;
	int rc = 0;

	lockdep_assert_held(&kdev->lock);
	old = kmem_begin_undoable(kdev);
	if (!old)
		return -ENOMEM;
	spin_lock(&kdev->stat_lock);
	if (type == MMOP_ONLINE && kmem_movable(kdev))
		type = MMOP_ONLINE_MOVABLE;
	spin_unlock(&kdev->stat_lock);

	end = kmem_deadline(READ_ONCE(unbind_timeout_ms));
	for (idx = 0; idx < kdev->nr_blocks && !rc; idx++) {
		if (old[idx] == KMEM_B_OFFLINE)
			rc = kmem_unplug_block(kdev, idx, end,
					       MHP_OFFLINE_SIGNAL_ANY);
		if (rc || (old[idx] != KMEM_B_OFFLINE &&
			   old[idx] != KMEM_B_UNPLUGGED))
			continue;
		rc = kmem_plug_block(kdev, idx, type);
		if (!rc && kmem_bstate(kdev, idx) == KMEM_B_OFFLINE)
			rc = -EIO;
	}
	if (!rc) {
		kmem_reached(kdev, want);
		goto out;
	}

	/* idx is one past the block that failed: undo up to it */
	end = kmem_deadline(READ_ONCE(unbind_timeout_ms));
	for (i = 0; i < idx; i++) {
		enum kmem_bstate now = kmem_bstate(kdev, i);

		if (now == old[i])
			continue;
		if ((now != KMEM_B_UNPLUGGED &&
		     kmem_unplug_block(kdev, i, end, MHP_OFFLINE_SIGNAL_NONE)) ||
		    (old[i] == KMEM_B_OFFLINE &&
		     kmem_loss_read(kdev) == KMEM_LOSS_NONE &&
		     kmem_plug_block(kdev, i, MMOP_OFFLINE)))
			pr_err("%s: block %#llx: could not be put back as it was\n",
			       kdev->name, kmem_block_addr(kdev, i));
	}
out:
	kmem_set_busy(kdev, false);
	kfree(old);
	return rc;
}

/*
 * The signals that may end an unplug of @kdev: none once the provider has
 * said the device is going away, as nothing could retry later; the loss
 * only ever goes up, so a caller may ask again at any point.
 */
static enum mhp_offline_signals kmem_signals(struct kmem_dev *kdev,
					     enum mhp_offline_signals signals)
{
	return kmem_loss_read(kdev) == KMEM_LOSS_NONE ? signals :
	       MHP_OFFLINE_SIGNAL_NONE;
}

/*
 * kmem_unplug_round - try once to unplug every present block
 *
 * Must be called with kdev->lock held, inside a transition (kdev->busy).
 * Every attempt ends by @end; after it only blocks with nothing left to
 * migrate go. Unless @signals is MHP_OFFLINE_SIGNAL_NONE, a fatal signal
 * ends the round, until the device is lost (kmem_signals()). Return: the
 * number of blocks removed.
 */
static unsigned int kmem_unplug_round(struct kmem_dev *kdev, unsigned long end,
				      enum mhp_offline_signals signals)
{
	unsigned int idx = kdev->nr_blocks, removed = 0;

	lockdep_assert_held(&kdev->lock);
	while (idx--) {
		signals = kmem_signals(kdev, signals);
		if (signals != MHP_OFFLINE_SIGNAL_NONE &&
		    fatal_signal_pending(current))
			break;
		if (kmem_bstate(kdev, idx) == KMEM_B_UNPLUGGED)
			continue;
		if (!kmem_unplug_block(kdev, idx, end, signals))
			removed++;
	}
	return removed;
}

/*
 * kmem_unplug_bounded - remove as much as possible, in bounded time
 *
 * For paths that cannot fail (unbind). Each round tries every present block
 * once; rounds repeat while one of them makes progress, and up to
 * unplug_retries times more with backoff when none does, all within
 * unbind_timeout_ms: the time is that budget plus one quick attempt per
 * block left, whatever the number of blocks. With MHP_OFFLINE_SIGNAL_FATAL,
 * signals the process handles do not stop it, a fatal signal does and the
 * caller hands what is left to the background worker, unless the device
 * is lost (kmem_signals()); with MHP_OFFLINE_SIGNAL_NONE only the budget
 * ends it. Must be called with kdev->lock held.
 */
static void kmem_unplug_bounded(struct kmem_dev *kdev,
				enum mhp_offline_signals signals)
{
	unsigned long end = kmem_deadline(READ_ONCE(unbind_timeout_ms));
	unsigned int retries = max(1U, READ_ONCE(unplug_retries));
	unsigned int idle = 0;

	lockdep_assert_held(&kdev->lock);
	kmem_set_busy(kdev, true);
	while (kmem_nr_present(kdev)) {
		long left;

		if (kmem_unplug_round(kdev, end, signals))
			idle = 0;
		else if (++idle >= retries)
			break;
		left = (long)(end - jiffies);
		signals = kmem_signals(kdev, signals);
		if (left <= 0 || (signals != MHP_OFFLINE_SIGNAL_NONE &&
				  fatal_signal_pending(current)))
			break;
		/* back off after a round without progress, within the budget */
		if (idle)
			msleep(min(100U << min(idle, 5U), jiffies_to_msecs(left)));
	}
	kmem_set_busy(kdev, false);
}

/* ---- sysfs ------------------------------------------------------------ */

static struct kmem_dev *to_kmem_dev(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  kmem_state_names[kmem_state(to_kmem_dev(dev))]);
}

/*
 * Writers serialise on kdev->lock (killable while waiting). The removal of
 * this attribute at unbind waits for a running store, so kdev stays valid.
 */
static ssize_t state_store(struct device *dev, struct device_attribute *attr,
			   const char *buf, size_t len)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);
	enum kmem_state cur;
	int want, rc;

	want = sysfs_match_string(kmem_state_names, buf);
	if (want < 0 || want == KMEM_S_OFFLINE)
		return -EINVAL;

	if (mutex_lock_killable(&kdev->lock))
		return -EINTR;
	cur = kmem_state(kdev);
	if (cur == want && (want == KMEM_S_UNPLUGGED || !kmem_incomplete(kdev)))
		rc = 0;
	else if (kmem_want_refused(kdev, want))
		rc = -EPERM;
	else if (want != KMEM_S_UNPLUGGED &&
		 kmem_loss_read(kdev) != KMEM_LOSS_NONE)
		rc = -ENXIO;	/* adds no memory to a device going away */
	else if (cur == want)
		rc = kmem_complete(kdev, want);
	else if (want == KMEM_S_UNPLUGGED)
		rc = kmem_unplug_all(kdev);
	else if (cur != KMEM_S_UNPLUGGED)
		rc = -EBUSY;
	else
		rc = kmem_plug_all(kdev, want);
	trace_dax_kmem_transition(kdev->name, kmem_state_names[cur],
				  kmem_state_names[want], rc);
	mutex_unlock(&kdev->lock);

	return rc ?: len;
}
static DEVICE_ATTR_RW(state);

static struct attribute *kmem_state_attrs[] = {
	&dev_attr_state.attr,
	NULL,
};

static const struct attribute_group kmem_state_group = {
	.attrs = kmem_state_attrs,
};

static ssize_t present_bytes_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", kmem_present(to_kmem_dev(dev)));
}
static DEVICE_ATTR_RO(present_bytes);

static ssize_t kmem_count_show(struct device *dev, char *buf,
			       enum kmem_bstate state)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);
	u64 bytes;

	spin_lock(&kdev->stat_lock);
	bytes = kdev->bytes[state];
	spin_unlock(&kdev->stat_lock);
	return sysfs_emit(buf, "%llu\n", bytes);
}

static ssize_t online_kernel_bytes_show(struct device *dev,
					struct device_attribute *attr,
					char *buf)
{
	return kmem_count_show(dev, buf, KMEM_B_KERNEL);
}
static DEVICE_ATTR_RO(online_kernel_bytes);

static ssize_t online_movable_bytes_show(struct device *dev,
					 struct device_attribute *attr,
					 char *buf)
{
	return kmem_count_show(dev, buf, KMEM_B_MOVABLE);
}
static DEVICE_ATTR_RO(online_movable_bytes);

/* Show @counter, one of kdev's figures, read under kdev->stat_lock. */
static ssize_t kmem_counter_show(struct kmem_dev *kdev,
				 const unsigned long *counter, char *buf)
{
	unsigned long nr;

	spin_lock(&kdev->stat_lock);
	nr = *counter;
	spin_unlock(&kdev->stat_lock);
	return sysfs_emit(buf, "%lu\n", nr);
}

static ssize_t offline_attempts_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);

	return kmem_counter_show(kdev, &kdev->offline_attempts, buf);
}
static DEVICE_ATTR_RO(offline_attempts);

static ssize_t offline_failures_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);

	return kmem_counter_show(kdev, &kdev->offline_failures, buf);
}
static DEVICE_ATTR_RO(offline_failures);

/*
 * The last failure, one field per file: errno (0 if nothing failed yet),
 * pfn, block and reason ("none" if nothing failed yet). A new failure may
 * land between two reads; offline_failures read before and after tells.
 */
static ssize_t last_failure_errno_show(struct device *dev,
				       struct device_attribute *attr,
				       char *buf)
{
	return sysfs_emit(buf, "%d\n", kmem_last_failure(to_kmem_dev(dev)).err);
}
static DEVICE_ATTR_RO(last_failure_errno);

/* physical addresses: readable by root only, like the dax bus's resource */
static ssize_t last_failure_pfn_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	struct kmem_failure last = kmem_last_failure(to_kmem_dev(dev));
	struct kmem_pfn_str pfn;

	return sysfs_emit(buf, "%s\n",
			  last.err ? kmem_pfn(last.pfn, &pfn) : "none");
}
static DEVICE_ATTR_ADMIN_RO(last_failure_pfn);

static ssize_t last_failure_block_show(struct device *dev,
				       struct device_attribute *attr,
				       char *buf)
{
	struct kmem_failure last = kmem_last_failure(to_kmem_dev(dev));

	if (!last.err)
		return sysfs_emit(buf, "none\n");
	return sysfs_emit(buf, "%#llx\n", last.addr);
}
static DEVICE_ATTR_ADMIN_RO(last_failure_block);

static ssize_t last_failure_reason_show(struct device *dev,
					struct device_attribute *attr,
					char *buf)
{
	struct kmem_failure last = kmem_last_failure(to_kmem_dev(dev));

	return sysfs_emit(buf, "%s\n", last.err ? last.reason : "none");
}
static DEVICE_ATTR_RO(last_failure_reason);

static struct attribute *kmem_stat_attrs[] = {
	&dev_attr_present_bytes.attr,
	&dev_attr_online_kernel_bytes.attr,
	&dev_attr_online_movable_bytes.attr,
	&dev_attr_offline_attempts.attr,
	&dev_attr_offline_failures.attr,
	&dev_attr_last_failure_errno.attr,
	&dev_attr_last_failure_pfn.attr,
	&dev_attr_last_failure_block.attr,
	&dev_attr_last_failure_reason.attr,
	NULL,
};

static const struct attribute_group kmem_stat_group = {
	.name = "kmem",
	.attrs = kmem_stat_attrs,
};

static const struct attribute_group *kmem_dev_groups[] = {
	&kmem_state_group,
	&kmem_stat_group,
	NULL,
};

/*
 * Print the device's ranges at @at of the sysfs page @buf, in the order of
 * the device, as "<start>-<end>[,<start>-<end>...]" (hexadecimal, inclusive
 * ends, as /proc/iomem has them). Return: the bytes printed.
 */
static int kmem_emit_ranges(struct kmem_dev *kdev, char *buf, int at)
{
	unsigned int i;
	int len = 0;

	for (i = 0; i < kdev->nr_ranges; i++)
		len += sysfs_emit_at(buf, at + len, "%s%llx-%llx", i ? "," : "",
				     kdev->ranges[i].start,
				     kdev->ranges[i].start + kdev->ranges[i].size - 1);
	return len;
}

/*
 * Print the retained list into the page @buf, one device per line: its
 * ranges, and with @detail its node, figures and last failure. Return: the
 * bytes printed.
 */
static ssize_t kmem_retained_emit(char *buf, bool detail)
{
	struct kmem_dev *kdev;
	ssize_t len = 0;

	mutex_lock(&kmem_retained_lock);
	list_for_each_entry(kdev, &kmem_retained_list, retained) {
		struct kmem_pfn_str pfn;
		struct kmem_failure f;
		u64 present;
		unsigned long tries, seq;

		len += kmem_emit_ranges(kdev, buf, len);
		if (!detail) {
			len += sysfs_emit_at(buf, len, "\n");
			continue;
		}
		spin_lock(&kdev->stat_lock);
		present = kdev->size - kdev->bytes[KMEM_B_UNPLUGGED];
		tries = kdev->offline_attempts;
		seq = kdev->retry_seq;
		f = kdev->last;
		spin_unlock(&kdev->stat_lock);
		len += sysfs_emit_at(buf, len,
				     " node=%d present_bytes=%llu attempts=%lu retry_seq=%lu errno=%d pfn=%s reason=%s\n",
				     kdev->nid, present, tries, seq, f.err,
				     f.err ? kmem_pfn(f.pfn, &pfn) : "unknown",
				     f.reason ?: "none");
	}
	mutex_unlock(&kmem_retained_lock);
	return len;
}

/*
 * The ranges of each device whose memory is retained, one device a line.
 * Physical addresses: readable by root only, like the dax bus's resource.
 */
static ssize_t retained_show(struct device_driver *drv, char *buf)
{
	return kmem_retained_emit(buf, false);
}

static struct driver_attribute driver_attr_retained =
	__ATTR_RO_MODE(retained, 0400);

/*
 * debugfs dax_kmem/retained: the same list with the node, the figures and
 * the last failure of each device, for diagnosis; not an ABI. One snapshot
 * per read from the start of the file.
 */
static int kmem_retained_dbg_show(struct seq_file *m, void *unused)
{
	char *page = (char *)__get_free_page(GFP_KERNEL);

	if (!page)
		return -ENOMEM;
	seq_write(m, page, kmem_retained_emit(page, true));
	free_page((unsigned long)page);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kmem_retained_dbg);

static struct attribute *kmem_drv_attrs[] = {
	&driver_attr_retained.attr,
	NULL,
};
ATTRIBUTE_GROUPS(kmem_drv);

/* ---- lifetime ---------------------------------------------------------- */

static struct memory_dev_type *kmem_get_mtype(int adist)
{
	guard(mutex)(&kmem_mtype_lock);
	return mt_find_alloc_memory_type(adist, &kmem_mtypes);
}

/*
 * Release everything of a device whose memory is all gone. Must be called
 * without kdev->lock, with the device on no list and its worker stopped.
 */
static void kmem_free(struct kmem_dev *kdev)
{
	unsigned int i;

	unregister_memory_notifier(&kdev->nb);
	for (i = 0; i < kdev->nr_ranges; i++) {
		if (!kdev->ranges[i].res)
			continue;
		remove_resource(kdev->ranges[i].res);
		kfree(kdev->ranges[i].res);
	}
	if (kdev->mgid >= 0)
		memory_group_unregister(kdev->mgid);
	if (kdev->mtype)
		clear_node_memory_type(kdev->nid, kdev->mtype);
	kfree(kdev->ranges);
	kfree(kdev->bstate);
	kfree(kdev->slice);
	dax_resv_put(kdev->resv);
	while (kdev->nr_old_names)
		kfree_const(kdev->old_names[--kdev->nr_old_names]);
	kfree(kdev->old_names);
	kfree_const(kdev->name);
	kfree(kdev);
}

/*
 * The module goes away with memory it could not remove: say so, and keep
 * what the resource tree and the memory still reference.
 */
static void kmem_abandon(struct kmem_dev *kdev)
{
	struct kmem_failure f = kmem_last_failure(kdev);
	struct kmem_pfn_str pfn;

	pr_err("%s: %llu bytes stay System RAM until reboot: module unloaded (errno=%d pfn=%s reason=%s)\n",
	       kdev->name, kmem_present(kdev), f.err,
	       kmem_pfn(f.pfn, &pfn), f.reason ?: "none");
	unregister_memory_notifier(&kdev->nb);
	WRITE_ONCE(kmem_abandoned, true);
}

/* One step of kdev->retry_seq: a background round starts or ends. */
static void kmem_retry_seq_step(struct kmem_dev *kdev)
{
	spin_lock(&kdev->stat_lock);
	kdev->retry_seq++;
	spin_unlock(&kdev->stat_lock);
}

/*
 * Background removal of a retained device, with exponential backoff. One
 * round per run, within unbind_timeout_ms: a run holds kdev->lock (and,
 * one block at a time, device_hotplug_lock) no longer than that, so a
 * bind that re-adopts the device waits for it at most that long.
 */
static void kmem_retry_work(struct work_struct *work)
{
	struct kmem_dev *kdev = container_of(to_delayed_work(work),
					     struct kmem_dev, retry_work);
	bool claimed;

	mutex_lock(&kdev->lock);
	kmem_retry_seq_step(kdev);
	kmem_set_busy(kdev, true);
	kmem_unplug_round(kdev, kmem_deadline(READ_ONCE(unbind_timeout_ms)),
			  MHP_OFFLINE_SIGNAL_NONE);
	kmem_set_busy(kdev, false);
	kmem_retry_seq_step(kdev);
	if (kmem_nr_present(kdev)) {
		kdev->retry_delay_ms = min(kdev->retry_delay_ms * 2,
					   max(READ_ONCE(retry_max_delay_ms),
					       KMEM_RETRY_FIRST_MS));
		queue_delayed_work(kmem_wq, &kdev->retry_work,
				   msecs_to_jiffies(kdev->retry_delay_ms));
		mutex_unlock(&kdev->lock);
		return;
	}
	mutex_unlock(&kdev->lock);

	mutex_lock(&kmem_retained_lock);
	/* a bind may have taken it off the list: then it is the binder's */
	claimed = list_empty(&kdev->retained);
	list_del_init(&kdev->retained);
	mutex_unlock(&kmem_retained_lock);
	if (claimed)
		return;

	pr_info("%s: retained memory removed\n", kdev->name);
	kmem_free(kdev);
	/* safe while we return: the module's exit drains kmem_wq first */
	module_put(THIS_MODULE);
}

/*
 * Keep a device whose memory could not all be removed: on the retained
 * list, with a worker removing it once it can. Each retained device holds
 * a reference on the module, so it cannot be unloaded while it tracks
 * memory (the worker drops it when the memory is gone, a re-adopting bind
 * when it takes the device). When the module is already on its way out
 * (its exit unbinds the devices), no reference can be had: the memory is
 * abandoned. Must be called without kdev->lock.
 */
static void kmem_retain(struct kmem_dev *kdev)
{
	if (!try_module_get(THIS_MODULE)) {
		kmem_abandon(kdev);
		return;
	}
	kdev->retry_delay_ms = KMEM_RETRY_FIRST_MS;
	/* queued before anybody can claim it, so a claim cancels it for sure */
	mutex_lock(&kmem_retained_lock);
	list_add_tail(&kdev->retained, &kmem_retained_list);
	queue_delayed_work(kmem_wq, &kdev->retry_work,
			   msecs_to_jiffies(KMEM_RETRY_FIRST_MS));
	mutex_unlock(&kmem_retained_lock);
}

static bool kmem_same_ranges(struct kmem_dev *a, struct kmem_dev *b)
{
	unsigned int i;

	if (a->nr_ranges != b->nr_ranges)
		return false;
	for (i = 0; i < a->nr_ranges; i++)
		if (a->ranges[i].start != b->ranges[i].start ||
		    a->ranges[i].size != b->ranges[i].size)
			return false;
	return true;
}

static bool kmem_overlaps(struct kmem_dev *a, struct kmem_dev *b)
{
	unsigned int i, j;

	for (i = 0; i < a->nr_ranges; i++)
		for (j = 0; j < b->nr_ranges; j++)
			if (a->ranges[i].start < b->ranges[j].start + b->ranges[j].size &&
			    b->ranges[j].start < a->ranges[i].start + a->ranges[i].size)
				return true;
	return false;
}

/*
 * kmem_adopt_check - whether a bind for @probe may re-adopt @old
 *
 * @old is retained memory with the ranges of @probe. The new device takes
 * it on its own terms (name, memmap, online policy), except the
 * node: the memory is already on @old's node, and a device that targets
 * another one would get memory of a node it does not describe.
 * Return: 0, or -EXDEV when the nodes differ.
 */
static int kmem_adopt_check(struct kmem_dev *old, struct kmem_dev *probe)
{
	return old->nid == probe->nid ? 0 : -EXDEV;
}

/*
 * Take the retained device with the ranges of @probe off the list.
 * Return: it, NULL if there is none, or an ERR_PTR: -EBUSY if one
 * overlaps, -EXDEV if one has the same ranges on another node.
 */
static struct kmem_dev *kmem_claim_retained(struct kmem_dev *probe)
{
	struct kmem_dev *kdev, *found = NULL;

	mutex_lock(&kmem_retained_lock);
	list_for_each_entry(kdev, &kmem_retained_list, retained) {
		if (kmem_same_ranges(kdev, probe)) {
			int rc = kmem_adopt_check(kdev, probe);

			found = rc ? ERR_PTR(rc) : kdev;
			if (rc)
				pr_warn("%s: memory retained from %s is on node %d, the device targets node %d: not re-adopting it\n",
					probe->name, kdev->name, kdev->nid,
					probe->nid);
			break;
		}
		if (kmem_overlaps(kdev, probe)) {
			found = ERR_PTR(-EBUSY);
			break;
		}
	}
	if (!IS_ERR_OR_NULL(found))
		list_del_init(&found->retained);
	mutex_unlock(&kmem_retained_lock);
	if (IS_ERR_OR_NULL(found))
		return found;

	cancel_delayed_work_sync(&found->retry_work);
	module_put(THIS_MODULE);
	return found;
}

/* Number the blocks of kdev->ranges[] and add up their bytes. */
static void kmem_index_ranges(struct kmem_dev *kdev)
{
	unsigned int i, blocks = 0;

	kdev->size = 0;
	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];

		r->first = blocks;
		r->nr = ((r->start + r->size - 1) >> kmem_block_shift) -
			(r->start >> kmem_block_shift) + 1;
		blocks += r->nr;
		kdev->size += r->size;
	}
	kdev->nr_blocks = blocks;
}

/*
 * The device's ranges, clipped to whole memory blocks or, with @sub (the
 * module parameter subblock when the device binds), to 2 MiB
 * (mhp_subblock_pages()): then every block they touch is added, whole or in
 * part. A device with memmap "memory" keeps whole memory blocks: a partial
 * block cannot host its own memmap (the core refuses MHP_MEMMAP_ON_MEMORY
 * with MHP_SUBBLOCK), and taking its memmap from DRAM instead would quietly
 * break the promise the setting makes.
 */
static int kmem_init_ranges(struct kmem_dev *kdev, struct dev_dax *dev_dax,
			    bool sub)
{
	u64 align = READ_ONCE(dev_dax->memmap) == DAX_MEMMAP_MEMORY || !sub ?
		    kmem_block_size : PFN_PHYS(mhp_subblock_pages());
	unsigned int i, n = 0;

	kdev->ranges = kcalloc(dev_dax->nr_range, sizeof(*kdev->ranges),
			       GFP_KERNEL);
	if (!kdev->ranges)
		return -ENOMEM;
	for (i = 0; i < dev_dax->nr_range; i++) {
		struct range *range = &dev_dax->ranges[i].range;
		u64 start = ALIGN(range->start, align);
		u64 end = ALIGN_DOWN(range->end + 1, align);

		if (start >= end) {
			dev_info(&dev_dax->dev,
				 "mapping%u: %#llx-%#llx too small after alignment\n",
				 i, range->start, range->end);
			continue;
		}
		/*
		 * A core rule: one sub-block range per memory block. Two
		 * ranges of the device that meet inside a block cannot both
		 * have it; the later one starts at the next block.
		 */
		if (n && (start >> kmem_block_shift) ==
		    ((kdev->ranges[n - 1].start + kdev->ranges[n - 1].size - 1) >>
		     kmem_block_shift)) {
			start = ALIGN(start, kmem_block_size);
			if (start >= end)
				continue;
		}
		kdev->ranges[n].start = start;
		kdev->ranges[n].size = end - start;
		n++;
	}
	kdev->nr_ranges = n;
	kmem_index_ranges(kdev);
	return 0;
}

/*
 * kmem_trim_shared - leave out the partial blocks other System RAM holds
 * @kdev: the ranges kmem_init_ranges() made, before anything is added
 * @taken: whether [start, end) holds System RAM: another driver's, or boot
 *	memory (never this device's, which has added nothing yet)
 *
 * The core gives a memory block to one owner: a partial block whose other
 * part is System RAM already would be refused (-EEXIST) and fail the bind,
 * where whole-block clipping would have left it out and bound. So such an
 * end of a range is clipped to the block boundary instead, as with
 * kmem.subblock=N. A range that would be left empty keeps its partial
 * block, and the core's refusal names the other owner. Called with no lock
 * held: @taken reads the resource tree under resource_lock, and what it
 * sees is a snapshot. The decision that counts is the core's, under
 * device_hotplug_lock at plug: memory another driver adds in between, or
 * later, gets this device's plug refused (-EEXIST) as before.
 * Return: the number of ends clipped.
 */
static unsigned int kmem_trim_shared(struct kmem_dev *kdev,
				     bool (*taken)(u64 start, u64 end))
{
	unsigned int i, trimmed = 0;

	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];
		u64 start = r->start, end = r->start + r->size;
		u64 head = ALIGN_DOWN(start, kmem_block_size);
		u64 tail = ALIGN(end, kmem_block_size);

		if (start != head && ALIGN(start, kmem_block_size) < end &&
		    taken(head, start)) {
			pr_info("%s: %#llx-%#llx: its memory block holds other System RAM, left out\n",
				kdev->name, start, ALIGN(start, kmem_block_size) - 1);
			start = ALIGN(start, kmem_block_size);
			trimmed++;
		}
		if (end != tail && ALIGN_DOWN(end, kmem_block_size) > start &&
		    taken(end, tail)) {
			pr_info("%s: %#llx-%#llx: its memory block holds other System RAM, left out\n",
				kdev->name, ALIGN_DOWN(end, kmem_block_size), end - 1);
			end = ALIGN_DOWN(end, kmem_block_size);
			trimmed++;
		}
		r->start = start;
		r->size = end - start;
	}
	if (trimmed)
		kmem_index_ranges(kdev);
	return trimmed;
}

/* System RAM in [start, end): kmem_trim_shared()'s test on a live system. */
static bool kmem_ram_taken(u64 start, u64 end)
{
	return region_intersects(start, end - start, IORESOURCE_SYSTEM_RAM,
				 IORES_DESC_NONE) != REGION_DISJOINT;
}

/* Reserve the parent resources the System RAM is added under. */
static int kmem_request_ranges(struct kmem_dev *kdev)
{
	unsigned int i;

	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];

		r->res = request_mem_region(r->start, r->size, kdev->name);
		if (!r->res) {
			pr_warn("%s: %#llx-%#llx could not reserve region\n",
				kdev->name, r->start, r->start + r->size - 1);
			return -EBUSY;
		}
		/*
		 * Plain memory without IORESOURCE_BUSY, so the System RAM can
		 * be added as its children; nothing inherited from the parent.
		 * Not System RAM itself: only the blocks added below it are,
		 * and walk_system_ram_range() / region_intersects() must not
		 * report the rest (an unplugged device, the blocks removed
		 * from a retained one) as RAM to memremap() and friends.
		 */
		r->res->flags = IORESOURCE_MEM;
	}
	return 0;
}

static enum kmem_state kmem_policy_state(struct dev_dax *dev_dax)
{
	int policy = READ_ONCE(dev_dax->online_policy);

	if (policy == DAX_ONLINE_POLICY_DEFAULT)
		policy = READ_ONCE(kmem_default_policy);
	switch (policy) {
	case DAX_ONLINE_POLICY_UNPLUGGED:
		return KMEM_S_UNPLUGGED;
	case DAX_ONLINE_POLICY_OFFLINE:
		return KMEM_S_OFFLINE;
	case DAX_ONLINE_POLICY_ONLINE:
		return KMEM_S_ONLINE;
	case DAX_ONLINE_POLICY_ONLINE_KERNEL:
		return KMEM_S_ONLINE_KERNEL;
	case DAX_ONLINE_POLICY_ONLINE_MOVABLE:
		return KMEM_S_ONLINE_MOVABLE;
	default:
		break;
	}
	switch (mhp_get_default_online_type()) {
	case MMOP_ONLINE:
		return KMEM_S_ONLINE;
	case MMOP_ONLINE_KERNEL:
		return KMEM_S_ONLINE_KERNEL;
	case MMOP_ONLINE_MOVABLE:
		return KMEM_S_ONLINE_MOVABLE;
	default:
		return KMEM_S_OFFLINE;
	}
}

/* The flags every block of @dev_dax is added with. */
static mhp_t kmem_mhp_flags(struct dev_dax *dev_dax)
{
	mhp_t flags = MHP_NID_IS_MGID | MHP_MERGE_RESOURCE;

	if (READ_ONCE(dev_dax->memmap) == DAX_MEMMAP_MEMORY)
		flags |= MHP_MEMMAP_ON_MEMORY;
	return flags;
}

/*
 * Give the whole blocks of @kdev consecutive slices of kmem_memmap_pages()
 * pages from the first PMD-aligned pfn of [@start, @end), in block order,
 * while they fit; kdev->slice[] is zeroed. Return: the number of blocks
 * that got one; *@whole says how many whole blocks there are.
 */
static unsigned int kmem_place_slices(struct kmem_dev *kdev,
				      unsigned long start, unsigned long end,
				      unsigned int *whole)
{
	unsigned long next = ALIGN(start, PHYS_PFN(PMD_SIZE));
	unsigned long nr = kmem_memmap_pages();
	unsigned int idx, placed = 0;

	*whole = 0;
	for (idx = 0; idx < kdev->nr_blocks; idx++) {
		if (kmem_block_len(kdev, idx) != kmem_block_size)
			continue;
		(*whole)++;
		if (next >= end || end - next < nr)
			continue;
		kdev->slice[idx] = next;
		next += nr;
		placed++;
	}
	return placed;
}

/*
 * Whether a page of the slice at @pfn has a struct page of its own (a
 * section boot memory shares): the core refuses such a memmap.
 */
static bool kmem_slice_valid(unsigned long pfn)
{
	unsigned long end = pfn + kmem_memmap_pages();

	for (; pfn < end; pfn += PAGES_PER_SUBSECTION)
		if (pfn_valid(pfn))
			return true;
	return false;
}

/*
 * kmem_memmap_init - the slices of the memmap reservation the blocks use
 *
 * With daxX.Y/memmap "reservation", the memmap of every whole block goes in
 * the space the provider set aside for one (the pfn reservation of a pmem
 * namespace, which the pgmap's altmap describes and nothing else uses
 * while kmem is bound): the n-th whole block of the device takes the n-th
 * slice of kmem_memmap_pages() pages from the first PMD-aligned pfn of the
 * space. Slices depend only on the ranges, never on which blocks are
 * present, so blocks come and go in any order, also under a later bind
 * that re-adopts them. Partial blocks take their memmap from DRAM (the core
 * takes an external memmap for whole blocks only), as does a whole block
 * whose slice would not fit or has struct pages of its own. The claim
 * taken here, when any block has a slice, keeps the space reserved until
 * kmem_free(), past the unbind and the provider when memory is retained.
 * Called before the device is set up, with no lock held.
 * Return: 0 or -ENOMEM.
 */
static int kmem_memmap_init(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	struct dev_pagemap *pgmap = dev_dax->pgmap;
	unsigned int idx, placed, whole;
	unsigned long start, end;

	if (READ_ONCE(dev_dax->memmap) != DAX_MEMMAP_RESERVATION)
		return 0;
	/* dax_bus offers the choice only with all of these */
	if (WARN_ON_ONCE(!dev_dax->memmap_resv || !pgmap ||
			 !(pgmap->flags & PGMAP_ALTMAP_VALID)))
		return 0;
	start = pgmap->altmap.base_pfn + pgmap->altmap.reserve;
	end = start + pgmap->altmap.free;

	kdev->slice = kcalloc(kdev->nr_blocks, sizeof(*kdev->slice),
			      GFP_KERNEL);
	if (!kdev->slice)
		return -ENOMEM;
	placed = kmem_place_slices(kdev, start, end, &whole);
	/* a space with struct pages of its own is no place for a memmap */
	for (idx = 0; idx < kdev->nr_blocks; idx++) {
		if (kdev->slice[idx] && kmem_slice_valid(kdev->slice[idx])) {
			kdev->slice[idx] = 0;
			placed--;
		}
	}
	pr_info("%s: memmap of %u of %u whole blocks in the reservation [mem %#llx-%#llx], the rest from DRAM\n",
		kdev->name, placed, whole, PFN_PHYS(start), PFN_PHYS(end) - 1);
	if (!placed) {
		kfree(kdev->slice);
		kdev->slice = NULL;
		return 0;
	}
	kdev->resv = dax_resv_get(dev_dax->memmap_resv);
	return 0;
}

/* Free a device that never got further than kmem_alloc(). */
static void kmem_release(struct kmem_dev *kdev)
{
	kfree(kdev->ranges);
	kfree(kdev->slice);
	dax_resv_put(kdev->resv);
	kfree_const(kdev->name);
	kfree(kdev);
}

static struct kmem_dev *kmem_alloc(struct dev_dax *dev_dax)
{
	struct kmem_dev *kdev;

	kdev = kzalloc(sizeof(*kdev), GFP_KERNEL);
	if (!kdev)
		return NULL;
	kdev->mgid = -1;
	kdev->nid = dev_dax->target_node;
	mutex_init(&kdev->lock);
	spin_lock_init(&kdev->stat_lock);
	INIT_LIST_HEAD(&kdev->retained);
	INIT_DELAYED_WORK(&kdev->retry_work, kmem_retry_work);
	kdev->nb.notifier_call = kmem_memory_notify;
	kdev->name = kstrdup_const(dev_name(&dev_dax->dev), GFP_KERNEL);
	if (!kdev->name || kmem_init_ranges(kdev, dev_dax, READ_ONCE(subblock))) {
		kmem_release(kdev);
		return NULL;
	}
	kmem_trim_shared(kdev, kmem_ram_taken);
	if (kmem_memmap_init(kdev, dev_dax)) {
		kmem_release(kdev);
		return NULL;
	}
	/* no block present, also before kmem_setup() allocates bstate[] */
	kdev->count[KMEM_B_UNPLUGGED] = kdev->nr_blocks;
	kdev->bytes[KMEM_B_UNPLUGGED] = kdev->size;
	return kdev;
}

/* Everything but the memory itself; kmem_free() undoes it. */
static int kmem_setup(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	int adist = KMEM_DEFAULT_ADISTANCE;
	int rc;

	kdev->bstate = kcalloc(kdev->nr_blocks, 1, GFP_KERNEL);
	if (!kdev->bstate)
		return -ENOMEM;

	mt_calc_adistance(kdev->nid, &adist);
	kdev->mtype = kmem_get_mtype(adist);
	if (IS_ERR(kdev->mtype)) {
		rc = PTR_ERR(kdev->mtype);
		kdev->mtype = NULL;
		return rc;
	}
	init_node_memory_type(kdev->nid, kdev->mtype);

	rc = kmem_request_ranges(kdev);
	if (rc)
		return rc;

	rc = memory_group_register_static(kdev->nid, PHYS_PFN(kdev->size));
	if (rc < 0)
		return rc;
	kdev->mgid = rc;

	kdev->mhp_flags = kmem_mhp_flags(dev_dax);

	return register_memory_notifier(&kdev->nb);
}

/*
 * Become the holder of the device's dax_device, to hear from its provider
 * (kmem_notify_failure()) until dev_dax_kmem_remove() lets go. A teardown
 * whose kill_dax() ran before this is not seen: the unbind it ends in
 * looks like any other. Retained memory has no device, and hears nothing.
 * The device's size is taken first: the registration publishes it to
 * kmem_notify_failure(), and it does not change while a driver is bound.
 */
static int kmem_hold(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	u64 size = 0;
	int i;

	for (i = 0; i < dev_dax->nr_range; i++)
		size += range_len(&dev_dax->ranges[i].range);
	kdev->dev_size = size;
	return dax_holder_register(dev_dax->dax_dev, kdev, &kmem_holder_ops);
}

/*
 * kmem_bind_want - the state a bind of @dev_dax brings @kdev to
 *
 * The device's online policy, except that a default (kmem's online_policy
 * or memory hotplug's, for a device whose own word is "default" or
 * "system") of online_kernel becomes online_movable for a device that may
 * go without warning, said in the log: only the device's own
 * online_kernel is refused (kmem_want_refused()). Call after
 * kmem_set_surprise().
 */
static enum kmem_state kmem_bind_want(struct kmem_dev *kdev,
				      struct dev_dax *dev_dax)
{
	enum kmem_state want = kmem_policy_state(dev_dax);
	bool refused;

	if (want != KMEM_S_ONLINE_KERNEL ||
	    READ_ONCE(dev_dax->online_policy) == DAX_ONLINE_POLICY_ONLINE_KERNEL)
		return want;
	spin_lock(&kdev->stat_lock);
	refused = kmem_surprise_refuses(kdev, MEM_GOING_ONLINE, ZONE_NORMAL);
	spin_unlock(&kdev->stat_lock);
	if (!refused)
		return want;
	dev_info(&dev_dax->dev, "the default online_kernel becomes online_movable: the device may go without warning\n");
	return KMEM_S_ONLINE_MOVABLE;
}

/*
 * kmem_adopted_kernel_said - say what a bind of a device that may go
 * without warning re-adopted in a kernel zone
 *
 * Blocks present keep their zone at re-adoption, also where
 * kernel_zone_surprise refuses the device a new one: the kernel data in
 * them stays, and kernel_loss applies to them at the device's next loss.
 * Said once per bind, from a snapshot of the block counts. Call after
 * kmem_set_surprise(), with kdev->lock held.
 */
static void kmem_adopted_kernel_said(struct kmem_dev *kdev,
				     struct dev_dax *dev_dax)
{
	unsigned int nr_kernel;
	bool refused;

	lockdep_assert_held(&kdev->lock);
	spin_lock(&kdev->stat_lock);
	nr_kernel = kdev->count[KMEM_B_KERNEL];
	refused = kmem_surprise_refuses(kdev, MEM_GOING_ONLINE, ZONE_NORMAL);
	spin_unlock(&kdev->stat_lock);
	if (refused && nr_kernel)
		dev_warn(&dev_dax->dev, "%u blocks of kernel memory re-adopted by a device that may go without warning: kmem.kernel_loss applies to them\n",
			 nr_kernel);
}

/*
 * Take the removal class of @dev_dax, which cannot change while it is
 * bound to kmem (daxX.Y/removal is -EBUSY then). Blocks present keep
 * their zone; it rules the onlines from now on.
 */
static void kmem_set_surprise(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	spin_lock(&kdev->stat_lock);
	kdev->surprise = READ_ONCE(dev_dax->removal) == DAX_REMOVAL_SURPRISE;
	spin_unlock(&kdev->stat_lock);
}

/*
 * kmem_adopt - a bind takes retained memory on the new device's terms
 * @old: the retained device, claimed off the list
 * @probe: what the bind built for @dev_dax; only its name is taken
 * @dev_dax: the device being bound
 *
 * The name (messages, /proc/iomem), the memmap choice and the online
 * policy become the new device's: the blocks that had been removed are
 * added again as the policy says, best effort (the state then reads what
 * is true); the blocks still present stay as they are. Must be called
 * without any lock of the driver's. Return: the bytes present before.
 */
static u64 kmem_adopt(struct kmem_dev *old, struct kmem_dev *probe,
		      struct dev_dax *dev_dax)
{
	enum kmem_state want;
	unsigned int i, idx;
	const char **names;
	u64 had;

	mutex_lock(&old->lock);
	had = kmem_present(old);
	if (strcmp(old->name, probe->name)) {
		names = krealloc_array(old->old_names, old->nr_old_names + 1,
				       sizeof(*names), GFP_KERNEL);
		if (names) {
			/* a reader of /proc/iomem may hold the old one */
			old->old_names = names;
			names[old->nr_old_names++] = old->name;
			old->name = probe->name;
			probe->name = NULL;
			for (i = 0; i < old->nr_ranges; i++)
				WRITE_ONCE(old->ranges[i].res->name, old->name);
		}
	}
	old->mhp_flags = kmem_mhp_flags(dev_dax);
	/*
	 * Blocks added from now on place their memmap as the new device
	 * says; present ones keep theirs. The old claim stays while any may
	 * use it. The same ranges of the same provider have the same
	 * reservation; slices of another (never seen) are not used.
	 */
	swap(old->slice, probe->slice);
	if (!old->resv) {
		swap(old->resv, probe->resv);
	} else if (probe->resv && probe->resv != old->resv) {
		kfree(old->slice);
		old->slice = NULL;
	}
	old->dev_dax = dev_dax;
	kmem_set_surprise(old, dev_dax);
	kmem_adopted_kernel_said(old, dev_dax);
	want = kmem_bind_want(old, dev_dax);
	if (kmem_want_refused(old, want))
		want = KMEM_S_UNPLUGGED;	/* the blocks present stay */
	if (want != KMEM_S_UNPLUGGED) {
		enum mmop type = kmem_online_type(old, want);

		kmem_set_busy(old, true);
		for (idx = 0; idx < old->nr_blocks; idx++)
			if (kmem_bstate(old, idx) == KMEM_B_UNPLUGGED)
				kmem_plug_block(old, idx, type);
		kmem_reached(old, want);
		kmem_set_busy(old, false);
	}
	mutex_unlock(&old->lock);
	return had;
}

static int dev_dax_kmem_probe(struct dev_dax *dev_dax)
{
	struct device *dev = &dev_dax->dev;
	struct kmem_dev *kdev, *old;
	enum kmem_state want;
	int rc;

	/*
	 * Without a node of its own, slow memory would be mixed into a node
	 * of fast memory with no way for anybody to tell them apart.
	 */
	if (dev_dax->target_node < 0) {
		dev_warn(dev, "rejecting DAX region with invalid node: %d\n",
			 dev_dax->target_node);
		return -EINVAL;
	}

	kdev = kmem_alloc(dev_dax);
	if (!kdev)
		return -ENOMEM;
	if (!kdev->nr_blocks) {
		dev_warn(dev, "rejecting DAX region without any memory after alignment\n");
		rc = -EINVAL;
		goto free;
	}

	old = kmem_claim_retained(kdev);
	if (IS_ERR(old)) {
		if (PTR_ERR(old) == -EBUSY)
			dev_warn(dev, "overlaps memory retained from an earlier binding\n");
		rc = PTR_ERR(old);
		goto free;
	}
	if (old) {
		u64 had;

		/* what the old provider said is not news of this device */
		spin_lock(&old->stat_lock);
		old->loss = KMEM_LOSS_NONE;
		spin_unlock(&old->stat_lock);
		rc = kmem_hold(old, dev_dax);
		if (rc) {
			dev_warn(dev, "the device has another holder\n");
			kmem_retain(old);	/* back on the list, as claimed */
			goto free;
		}
		had = kmem_adopt(old, kdev, dev_dax);
		kmem_release(kdev);
		dev_set_drvdata(dev, old);
		dev_info(dev, "re-adopted %llu bytes of retained memory, now %s with %llu bytes\n",
			 had, kmem_state_names[kmem_state(old)],
			 kmem_present(old));
		return 0;
	}

	rc = kmem_setup(kdev, dev_dax);
	if (rc)
		goto free_setup;
	rc = kmem_hold(kdev, dev_dax);
	if (rc) {
		dev_warn(dev, "the device has another holder\n");
		goto free_setup;
	}

	kdev->dev_dax = dev_dax;
	kmem_set_surprise(kdev, dev_dax);
	want = kmem_bind_want(kdev, dev_dax);
	mutex_lock(&kdev->lock);
	rc = kmem_want_refused(kdev, want);
	if (!rc && want != KMEM_S_UNPLUGGED)
		rc = kmem_plug_all(kdev, want);
	trace_dax_kmem_transition(kdev->name,
				  kmem_state_names[KMEM_S_UNPLUGGED],
				  kmem_state_names[want], rc);
	mutex_unlock(&kdev->lock);
	if (rc)
		goto unhold;

	dev_set_drvdata(dev, kdev);
	return 0;

unhold:
	dax_holder_unregister(dev_dax->dax_dev, kdev);
free_setup:
	kdev->dev_dax = NULL;
	if (kdev->bstate && kmem_nr_present(kdev))
		kmem_retain(kdev);	/* a rollback that failed */
	else
		kmem_free(kdev);
	return rc;
free:
	kmem_release(kdev);
	return rc;
}

/*
 * kmem_kernel_lost - whether the loss of @kdev's backing takes kernel
 * memory away with block @idx
 *
 * A block online in a kernel zone may hold kernel data (slab, page tables,
 * stacks) that nothing can move or take from its users. It is lost when
 * the provider reports that the memory failed (KMEM_LOSS_GONE), and when a
 * device that may go without warning (kdev->surprise) is torn down: its
 * provider may stop decoding the range right after (CXL resets its
 * decoders). An announced device's teardown leaves the memory readable
 * (a destroyed namespace, a disabled region, an unbound hmem device keep
 * their media): what is left is retained as after any unbind. Needs
 * kdev->stat_lock.
 */
static bool kmem_kernel_lost(struct kmem_dev *kdev, unsigned int idx,
			     enum kmem_loss loss)
{
	lockdep_assert_held(&kdev->stat_lock);
	if (kdev->bstate[idx] != KMEM_B_KERNEL)
		return false;
	return loss == KMEM_LOSS_GONE ||
	       (loss == KMEM_LOSS_TEARDOWN && kdev->surprise);
}

/*
 * kmem_kernel_loss_act - apply kernel_loss to the blocks that the loss of
 * the backing (@loss) takes kernel memory away with (kmem_kernel_lost())
 *
 * Must be called with kdev->lock held, after kmem tried to remove every
 * block and after the provider can tell nothing more: only what could not
 * be removed is left, and @loss is final. "panic" stops the machine at the
 * first such block, as a machine check in kernel context would; "keep"
 * leaves the blocks to be retained, names each, says it once at KERN_CRIT
 * and taints the kernel (TAINT_MACHINE_CHECK, although no machine check
 * was seen).
 */
static void kmem_kernel_loss_act(struct kmem_dev *kdev, enum kmem_loss loss)
{
	const char *how = loss == KMEM_LOSS_GONE ? "failed" :
			  "is going without warning";
	bool panics = READ_ONCE(kernel_loss) == KMEM_KLOSS_PANIC;
	unsigned int idx, kept = 0;
	u64 addr, bytes = 0;
	bool lost;

	lockdep_assert_held(&kdev->lock);
	for (idx = 0; idx < kdev->nr_blocks; idx++) {
		spin_lock(&kdev->stat_lock);
		lost = kmem_kernel_lost(kdev, idx, loss);
		spin_unlock(&kdev->stat_lock);
		if (!lost)
			continue;
		addr = kmem_block_addr(kdev, idx);
		if (panics)
			panic("kmem: %s: kernel memory in block %#llx lost with the device (kmem.kernel_loss=panic)\n",
			      kdev->name, addr);
		pr_err("%s: block %#llx: kernel memory kept although the device %s\n",
		       kdev->name, addr, how);
		kept++;
		bytes += kmem_block_len(kdev, idx);
	}
	if (!kept)
		return;
	add_taint(TAINT_MACHINE_CHECK, LOCKDEP_STILL_OK);
	pr_crit("%s: %u blocks (%llu bytes) of kernel memory kept although the device %s; the kernel may read memory that is gone (kmem.kernel_loss=keep)\n",
		kdev->name, kept, bytes, how);
}

/*
 * kmem_left_behind - what the unbind leaves of @kdev, once its provider can
 * tell nothing more (its holder unregistered: a loss reported while the
 * unplug ran counts too)
 *
 * Must be called with kdev->lock not held, before kmem_retain(). Applies
 * kernel_loss after a loss. Kernel memory retained from a device that may
 * go without warning, with no loss reported, is said at KERN_CRIT: kmem
 * will not hear when the device goes.
 */
static void kmem_left_behind(struct kmem_dev *kdev)
{
	enum kmem_loss loss = kmem_loss_read(kdev);
	unsigned int nr_kernel;
	bool surprise;

	if (loss != KMEM_LOSS_NONE) {
		mutex_lock(&kdev->lock);
		kmem_kernel_loss_act(kdev, loss);
		mutex_unlock(&kdev->lock);
		return;
	}
	spin_lock(&kdev->stat_lock);
	nr_kernel = kdev->count[KMEM_B_KERNEL];
	surprise = kdev->surprise;
	spin_unlock(&kdev->stat_lock);
	if (surprise && nr_kernel)
		pr_crit("%s: %u blocks of kernel memory retained from a device that may go without warning: its loss will not be noticed\n",
			kdev->name, nr_kernel);
}

/*
 * Unbind cannot fail: remove what can go within unbind_timeout_ms (a fatal
 * signal ends it earlier unless the device is lost, one the process handles
 * does not), apply kernel_loss to what a loss leaves in a kernel zone, and
 * keep the rest on the retained list with a worker that removes it once it
 * can.
 */
static void dev_dax_kmem_remove(struct dev_dax *dev_dax)
{
	struct device *dev = &dev_dax->dev;
	struct kmem_dev *kdev = dev_get_drvdata(dev);
	enum kmem_state from;
	enum kmem_loss loss;
	unsigned int left;
	int err = 0;

	mutex_lock(&kdev->lock);
	from = kmem_state(kdev);
	/*
	 * A module being unloaded cannot retain anything (kmem_retain()): do
	 * not let a Ctrl-C on rmmod turn its unbinds into abandoned memory.
	 */
	kmem_unplug_bounded(kdev, module_is_live(THIS_MODULE) ?
			    MHP_OFFLINE_SIGNAL_FATAL : MHP_OFFLINE_SIGNAL_NONE);
	left = kmem_nr_present(kdev);
	if (left) {
		struct kmem_failure f = kmem_last_failure(kdev);
		struct kmem_pfn_str pfn;
		unsigned int i;
		u64 nr;

		err = f.err;
		/* a teardown may have begun while the unplug ran */
		loss = kmem_loss_read(kdev);
		if (loss != KMEM_LOSS_NONE)
			dev_warn(dev, "retaining memory although the provider %s\n",
				 loss == KMEM_LOSS_TEARDOWN ?
				 "is removing the device" :
				 "reports a failure of its memory");
		for (i = 0; i < kdev->nr_ranges; i++) {
			struct kmem_range *r = &kdev->ranges[i];

			nr = kmem_range_present(kdev, r);
			if (!nr)
				continue;
			/* the last failure was in one range: name it there */
			if (!f.err || f.addr < r->start ||
			    f.addr - r->start >= r->size) {
				dev_warn(dev,
					 "retaining %llu bytes of [mem %#llx-%#llx] that could not be removed; retrying in the background\n",
					 nr, r->start, r->start + r->size - 1);
				continue;
			}
			dev_warn(dev,
				 "retaining %llu bytes of [mem %#llx-%#llx] that could not be removed (errno=%d pfn=%s reason=%s); retrying in the background\n",
				 nr, r->start, r->start + r->size - 1,
				 f.err, kmem_pfn(f.pfn, &pfn),
				 f.reason ?: "none");
		}
	}
	kdev->dev_dax = NULL;
	trace_dax_kmem_transition(kdev->name, kmem_state_names[from],
				  kmem_state_names[KMEM_S_UNPLUGGED], err);
	mutex_unlock(&kdev->lock);
	dev_set_drvdata(dev, NULL);
	dax_holder_unregister(dev_dax->dax_dev, kdev);

	if (left) {
		kmem_left_behind(kdev);
		kmem_retain(kdev);
	} else {
		kmem_free(kdev);
	}
}

static struct dax_device_driver device_dax_kmem_driver = {
	.probe = dev_dax_kmem_probe,
	.remove = dev_dax_kmem_remove,
	.type = DAXDRV_KMEM_TYPE,
	.drv = {
		.dev_groups = kmem_dev_groups,
		.groups = kmem_drv_groups,
	},
};

static struct dentry *kmem_debugfs;

static int __init dax_kmem_init(void)
{
	int rc;

	kmem_block_size = memory_block_size_bytes();
	kmem_block_shift = __ffs64(kmem_block_size);
	kmem_res_name = kstrdup_const("System RAM (kmem)", GFP_KERNEL);
	if (!kmem_res_name)
		return -ENOMEM;
	kmem_wq = alloc_workqueue("dax_kmem", WQ_UNBOUND, 0);
	if (!kmem_wq) {
		rc = -ENOMEM;
		goto free_name;
	}
	kmem_debugfs = debugfs_create_dir("dax_kmem", NULL);
	debugfs_create_file("retained", 0400, kmem_debugfs, NULL,
			    &kmem_retained_dbg_fops);
	kmem_fail_init();

	rc = dax_driver_register(&device_dax_kmem_driver);
	if (rc)
		goto free_wq;
	return 0;

free_wq:
	kmem_fail_exit();
	debugfs_remove_recursive(kmem_debugfs);
	destroy_workqueue(kmem_wq);
free_name:
	kfree_const(kmem_res_name);
	return rc;
}

static void __exit dax_kmem_exit(void)
{
	struct kmem_dev *kdev;

	/* devices unbound now and failing to go are abandoned: kmem_retain() */
	dax_driver_unregister(&device_dax_kmem_driver);
	/*
	 * Retained devices hold a module reference, so only a forced unload
	 * (rmmod -f) gets here with some: stop their workers and let go of
	 * them before the module text and the workqueue go away.
	 */
	for (;;) {
		mutex_lock(&kmem_retained_lock);
		kdev = list_first_entry_or_null(&kmem_retained_list,
						struct kmem_dev, retained);
		if (kdev)
			list_del_init(&kdev->retained);
		mutex_unlock(&kmem_retained_lock);
		if (!kdev)
			break;
		cancel_delayed_work_sync(&kdev->retry_work);
		if (kmem_nr_present(kdev))
			kmem_abandon(kdev);
		else
			kmem_free(kdev);
	}
	kmem_fail_exit();
	debugfs_remove_recursive(kmem_debugfs);
	destroy_workqueue(kmem_wq);
	if (!READ_ONCE(kmem_abandoned)) {
		kfree_const(kmem_res_name);
		mutex_lock(&kmem_mtype_lock);
		mt_put_memory_types(&kmem_mtypes);
		mutex_unlock(&kmem_mtype_lock);
	}
}

MODULE_DESCRIPTION("dax kmem: device-dax memory as System RAM, whole-device state");
MODULE_LICENSE("GPL");
module_init(dax_kmem_init);
module_exit(dax_kmem_exit);
MODULE_ALIAS_DAX_DEVICE(0);

#if IS_ENABLED(CONFIG_DAX_KMEM_KUNIT_TEST)
#include "kmem_test.c"
#endif
