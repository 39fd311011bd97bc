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
 *         mem_hotplug_lock       taken by core mm
 *           kdev->stat_lock      block states and figures; the memory
 *                                notifier and every sysfs reader
 *
 * kmem_retained_lock and kdev->lock are never held together: a device is
 * taken off the list first, then its worker is stopped, then it is locked.
 *
 * state_store() takes kdev->lock but never the device lock: unbind removes
 * the attribute (waiting for a running store) while holding the device lock.
 * Readers take only kdev->stat_lock, so a read never waits for a migration.
 * Blocks may also change state behind our back (memoryN/state, daxctl):
 * the memory notifier keeps bstate[] true, and every operation here works
 * from whatever state a block is in.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/memory-tiers.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
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

/**
 * struct kmem_range - one memory-block aligned range of a device
 * @start: physical start, memory block aligned
 * @size: bytes, a multiple of the memory block size
 * @first: index of its first block in &kmem_dev.bstate
 * @res: the parent resource ("daxX.Y") the System RAM is added under
 */
struct kmem_range {
	u64 start;
	u64 size;
	unsigned int first;
	struct resource *res;
};

/**
 * struct kmem_failure - what the last failed unplug said
 * @err: negative errno, 0 if nothing failed yet
 * @pfn: the page in the way
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
 * @name: device name: resource name and message prefix while retained
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
 * @stat_lock: protects everything below
 * @bstate: one enum kmem_bstate per block, written by kmem_set_bstate()
 * @count: blocks per enum kmem_bstate
 * @want_online: the device was onlined with the word "online"
 * @offline_attempts: unplug attempts of single blocks
 * @offline_failures: failed ones
 * @last: the last failure
 */
struct kmem_dev {
	struct dev_dax *dev_dax;
	const char *name;
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

	spinlock_t stat_lock;		/* block states and figures */
	u8 *bstate;
	unsigned int count[KMEM_B_MAX];
	bool want_online;
	unsigned long offline_attempts;
	unsigned long offline_failures;
	struct kmem_failure last;
};

/* "System RAM (kmem)": must outlive any memory this driver fails to remove. */
static const char *kmem_res_name;
static u64 kmem_block_size;
static unsigned int kmem_block_shift;	/* memory blocks are a power of 2 */

static LIST_HEAD(kmem_retained_list);
static DEFINE_MUTEX(kmem_retained_lock);
static struct workqueue_struct *kmem_wq;
/* Set while the module goes away: nothing can be retained any more. */
static bool kmem_exiting;
/* Memory was given up on at module unload: keep what it references. */
static bool kmem_abandoned;

static DEFINE_MUTEX(kmem_mtype_lock);
static LIST_HEAD(kmem_mtypes);

static int kmem_default_policy = DAX_ONLINE_POLICY_SYSTEM;
static unsigned int offline_timeout_ms = 10000;
static unsigned int unplug_retries = 3;
static unsigned int retry_max_delay_ms = 60000;
static u64 kmem_fail_addr;

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
module_param(offline_timeout_ms, uint, 0644);
MODULE_PARM_DESC(offline_timeout_ms,
		 "Give up migrating the pages of one memory block after this long (0: no bound)");
module_param(unplug_retries, uint, 0644);
MODULE_PARM_DESC(unplug_retries,
		 "Attempts per memory block without progress when unbinding");
module_param(retry_max_delay_ms, uint, 0644);
MODULE_PARM_DESC(retry_max_delay_ms,
		 "Longest backoff of the background removal of retained memory");

/* ---- block bookkeeping ------------------------------------------------ */

/* The one setter of bstate[]; keeps count[] in step. */
static void kmem_set_bstate(struct kmem_dev *kdev, unsigned int idx,
			    enum kmem_bstate new)
{
	lockdep_assert_held(&kdev->stat_lock);
	kdev->count[kdev->bstate[idx]]--;
	kdev->count[new]++;
	kdev->bstate[idx] = new;
}

static void kmem_set_bstate_locked(struct kmem_dev *kdev, unsigned int idx,
				   enum kmem_bstate new)
{
	spin_lock(&kdev->stat_lock);
	kmem_set_bstate(kdev, idx, new);
	spin_unlock(&kdev->stat_lock);
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

static u64 kmem_block_addr(struct kmem_dev *kdev, unsigned int idx)
{
	struct kmem_range *r = kdev->ranges;

	while (idx >= r->first + (r->size >> kmem_block_shift))
		r++;
	return r->start + (u64)(idx - r->first) * kmem_block_size;
}

/* Index of the block holding @addr, or -1 if it is not ours. */
static int kmem_block_of(struct kmem_dev *kdev, u64 addr)
{
	unsigned int i;

	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];

		if (addr >= r->start && addr - r->start < r->size)
			return r->first + ((addr - r->start) >> kmem_block_shift);
	}
	return -1;
}

/* The last byte of the device's last range: its span ends there. */
static u64 kmem_span_end(struct kmem_dev *kdev)
{
	struct kmem_range *last = &kdev->ranges[kdev->nr_ranges - 1];

	return last->start + last->size - 1;
}

static struct kmem_failure kmem_last_failure(struct kmem_dev *kdev)
{
	struct kmem_failure f;

	spin_lock(&kdev->stat_lock);
	f = kdev->last;
	spin_unlock(&kdev->stat_lock);
	return f;
}

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

/* Whether reads say "online" rather than the zone: the word used to plug. */
static void kmem_set_want_online(struct kmem_dev *kdev, bool want_online)
{
	spin_lock(&kdev->stat_lock);
	kdev->want_online = want_online;
	spin_unlock(&kdev->stat_lock);
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
 * Memory notifier: a block of ours went online or offline, by us or by
 * anybody else (memoryN/state, daxctl, udev). Called with mem_hotplug_lock
 * held; takes only kdev->stat_lock.
 */
static int kmem_memory_notify(struct notifier_block *nb, unsigned long action,
			      void *arg)
{
	struct kmem_dev *kdev = container_of(nb, struct kmem_dev, nb);
	struct memory_notify *mn = arg;
	enum kmem_bstate new;
	int idx;

	if (action != MEM_ONLINE && action != MEM_OFFLINE)
		return NOTIFY_OK;
	idx = kmem_block_of(kdev, PFN_PHYS(mn->start_pfn));
	if (idx < 0)
		return NOTIFY_OK;

	new = KMEM_B_OFFLINE;
	if (action == MEM_ONLINE)
		new = zone_idx(page_zone(pfn_to_page(mn->start_pfn))) ==
		      ZONE_MOVABLE ? KMEM_B_MOVABLE : KMEM_B_KERNEL;

	spin_lock(&kdev->stat_lock);
	/* blocks we are not adding are none of our business */
	if (kdev->bstate[idx] != KMEM_B_UNPLUGGED)
		kmem_set_bstate(kdev, idx, new);
	spin_unlock(&kdev->stat_lock);
	return NOTIFY_OK;
}

/* ---- the two core-mm wrappers ------------------------------------------ */

static bool kmem_inject(u64 addr)
{
	return IS_ENABLED(CONFIG_DEBUG_FS) && READ_ONCE(kmem_fail_addr) == addr;
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
	u64 addr = kmem_block_addr(kdev, idx);
	int rc;

	lockdep_assert_held(&kdev->lock);
	if (WARN_ON_ONCE(kmem_bstate(kdev, idx) != KMEM_B_UNPLUGGED))
		return -EEXIST;

	/* present before it exists, so the notifier tracks its onlining */
	kmem_set_bstate_locked(kdev, idx, KMEM_B_OFFLINE);
	if (kmem_inject(addr))
		rc = -EBUSY;
	else
		rc = add_memory_driver_managed_online(kdev->mgid, addr,
						      kmem_block_size,
						      kmem_res_name,
						      kdev->mhp_flags, type);
	if (rc)
		kmem_set_bstate_locked(kdev, idx, KMEM_B_UNPLUGGED);
	trace_kmem_block(kdev->name, addr, "plug", rc);
	return rc;
}

/*
 * kmem_unplug_block - offline (if needed) and remove one block
 *
 * Must be called with kdev->lock held and device_hotplug_lock not held.
 * Might take up to offline_timeout_ms migrating pages; a signal aborts it.
 * On failure the block is back in the state it was in and kdev->last
 * says why. Return: 0 or a negative errno.
 */
static int kmem_unplug_block(struct kmem_dev *kdev, unsigned int idx)
{
	unsigned int timeout = READ_ONCE(offline_timeout_ms);
	u64 addr = kmem_block_addr(kdev, idx);
	struct mhp_offline_ctl ctl = {};
	int rc;

	lockdep_assert_held(&kdev->lock);
	if (kmem_bstate(kdev, idx) == KMEM_B_UNPLUGGED)
		return 0;

	if (timeout)
		ctl.deadline = jiffies + msecs_to_jiffies(timeout) ?: 1;
	if (kmem_inject(addr)) {
		rc = -EBUSY;
		ctl.reason = "injected";
		ctl.fail_pfn = PHYS_PFN(addr);
	} else {
		rc = offline_and_remove_memory_bounded(addr, kmem_block_size,
						       &ctl);
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
	trace_kmem_block(kdev->name, addr, "unplug", rc);
	return rc;
}

/* ---- whole-device transitions ------------------------------------------ */

/*
 * kmem_plug_all - add every block and online it as @want says, or nothing
 *
 * Must be called with kdev->lock held, with no block present. On failure
 * whatever was added is removed again. Return: 0, the errno of the add
 * that failed, or -EIO if a block would not online.
 */
static int kmem_plug_all(struct kmem_dev *kdev, enum kmem_state want)
{
	enum mmop type = kmem_state_mmop(want);
	unsigned int idx;
	int rc = 0;

	lockdep_assert_held(&kdev->lock);
	kmem_set_want_online(kdev, want == KMEM_S_ONLINE);

	for (idx = 0; idx < kdev->nr_blocks; idx++) {
		rc = kmem_plug_block(kdev, idx, type);
		if (rc)
			break;
		if (type != MMOP_OFFLINE &&
		    kmem_bstate(kdev, idx) == KMEM_B_OFFLINE) {
			rc = -EIO;
			break;
		}
	}
	if (!rc)
		return 0;

	pr_warn("%s: block %#llx: %s failed (%d), removing the device's memory again\n",
		kdev->name, kmem_block_addr(kdev, idx),
		rc == -EIO ? "online" : "add", rc);
	/* from the top: the block that would not online is present too */
	idx = kdev->nr_blocks;
	while (idx--) {
		if (kmem_unplug_block(kdev, idx))
			pr_err("%s: block %#llx: rollback failed, the block stays\n",
			       kdev->name, kmem_block_addr(kdev, idx));
	}
	kmem_set_want_online(kdev, false);
	return rc;
}

/*
 * kmem_unplug_all - offline and remove every block, or none
 *
 * Must be called with kdev->lock held. On failure, every block removed so
 * far is added back in the zone it was in. Return: 0 or the errno of the
 * block that could not go.
 */
static int kmem_unplug_all(struct kmem_dev *kdev)
{
	unsigned int idx = kdev->nr_blocks, failed;
	u8 *old;
	int rc = 0;

	lockdep_assert_held(&kdev->lock);
	old = kmalloc(kdev->nr_blocks, GFP_KERNEL);
	if (!old)
		return -ENOMEM;
	spin_lock(&kdev->stat_lock);
	memcpy(old, kdev->bstate, kdev->nr_blocks);
	spin_unlock(&kdev->stat_lock);

	/* from the top, so ZONE_MOVABLE shrinks from its end */
	while (idx--) {
		rc = kmem_unplug_block(kdev, idx);
		if (rc)
			break;
	}
	if (!rc) {
		kmem_set_want_online(kdev, false);
		goto out;
	}

	failed = idx;
	for (idx = failed + 1; idx < kdev->nr_blocks; idx++) {
		if (old[idx] == KMEM_B_UNPLUGGED)
			continue;
		if (kmem_plug_block(kdev, idx, kmem_bstate_mmop(old[idx])) ||
		    kmem_bstate(kdev, idx) != old[idx])
			pr_err("%s: block %#llx: could not be put back as it was\n",
			       kdev->name, kmem_block_addr(kdev, idx));
	}
out:
	kfree(old);
	return rc;
}

/*
 * kmem_unplug_round - try once to unplug every present block
 *
 * Must be called with kdev->lock held. Return: the number of blocks removed.
 */
static unsigned int kmem_unplug_round(struct kmem_dev *kdev)
{
	unsigned int idx = kdev->nr_blocks, removed = 0;

	lockdep_assert_held(&kdev->lock);
	while (idx--) {
		if (kmem_bstate(kdev, idx) == KMEM_B_UNPLUGGED)
			continue;
		if (!kmem_unplug_block(kdev, idx))
			removed++;
	}
	return removed;
}

/*
 * kmem_unplug_bounded - remove as much as possible, in bounded time
 *
 * For paths that cannot fail (unbind). Each round tries every present block
 * once; rounds repeat while one of them makes progress, and up to
 * unplug_retries times more with backoff when none does. A signal ends it
 * early: every offline attempt would fail at once. Must be called with
 * kdev->lock held.
 */
static void kmem_unplug_bounded(struct kmem_dev *kdev)
{
	unsigned int retries = max(1U, READ_ONCE(unplug_retries));
	unsigned int idle = 0;

	lockdep_assert_held(&kdev->lock);
	while (kmem_nr_present(kdev)) {
		if (kmem_unplug_round(kdev)) {
			idle = 0;
			continue;
		}
		if (++idle >= retries || signal_pending(current))
			break;
		msleep(100U << min(idle, 5U));
	}
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
	if (cur == want)
		rc = 0;
	else if (want == KMEM_S_UNPLUGGED)
		rc = kmem_unplug_all(kdev);
	else if (cur != KMEM_S_UNPLUGGED)
		rc = -EBUSY;
	else
		rc = kmem_plug_all(kdev, want);
	trace_kmem_transition(kdev->name, kmem_state_names[cur],
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

static u64 kmem_bytes(unsigned int blocks)
{
	return (u64)blocks * kmem_block_size;
}

static ssize_t present_bytes_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);

	return sysfs_emit(buf, "%llu\n", kmem_bytes(kmem_nr_present(kdev)));
}
static DEVICE_ATTR_RO(present_bytes);

static ssize_t kmem_count_show(struct device *dev, char *buf,
			       enum kmem_bstate state)
{
	struct kmem_dev *kdev = to_kmem_dev(dev);
	unsigned int nr;

	spin_lock(&kdev->stat_lock);
	nr = kdev->count[state];
	spin_unlock(&kdev->stat_lock);
	return sysfs_emit(buf, "%llu\n", kmem_bytes(nr));
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

static ssize_t last_failure_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct kmem_failure last = kmem_last_failure(to_kmem_dev(dev));

	if (!last.err)
		return sysfs_emit(buf, "none\n");
	return sysfs_emit(buf, "errno=%d pfn=%#lx block=%#llx reason=%s\n",
			  last.err, last.pfn, last.addr, last.reason);
}
static DEVICE_ATTR_RO(last_failure);

static struct attribute *kmem_stat_attrs[] = {
	&dev_attr_present_bytes.attr,
	&dev_attr_online_kernel_bytes.attr,
	&dev_attr_online_movable_bytes.attr,
	&dev_attr_offline_attempts.attr,
	&dev_attr_offline_failures.attr,
	&dev_attr_last_failure.attr,
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

static ssize_t retained_show(struct device_driver *drv, char *buf)
{
	struct kmem_dev *kdev;
	ssize_t len = 0;

	mutex_lock(&kmem_retained_lock);
	list_for_each_entry(kdev, &kmem_retained_list, retained) {
		unsigned int present;
		struct kmem_failure f;
		unsigned long tries;

		spin_lock(&kdev->stat_lock);
		present = kdev->nr_blocks - kdev->count[KMEM_B_UNPLUGGED];
		tries = kdev->offline_attempts;
		f = kdev->last;
		spin_unlock(&kdev->stat_lock);
		len += sysfs_emit_at(buf, len,
				     "%llx-%llx node=%d present_bytes=%llu attempts=%lu errno=%d pfn=%#lx reason=%s\n",
				     kdev->ranges[0].start, kmem_span_end(kdev),
				     kdev->nid,
				     kmem_bytes(present), tries, f.err,
				     f.pfn, f.reason ?: "none");
	}
	mutex_unlock(&kmem_retained_lock);
	return len;
}
static DRIVER_ATTR_RO(retained);

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

	pr_err("%s: %llu bytes stay System RAM until reboot: module unloaded (errno=%d pfn=%#lx reason=%s)\n",
	       kdev->name, kmem_bytes(kmem_nr_present(kdev)), f.err,
	       f.pfn, f.reason ?: "none");
	unregister_memory_notifier(&kdev->nb);
	WRITE_ONCE(kmem_abandoned, true);
}

/* Background removal of a retained device, with exponential backoff. */
static void kmem_retry_work(struct work_struct *work)
{
	struct kmem_dev *kdev = container_of(to_delayed_work(work),
					     struct kmem_dev, retry_work);
	bool claimed;

	mutex_lock(&kdev->lock);
	kmem_unplug_round(kdev);
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
	module_put(THIS_MODULE);
}

/*
 * Keep a device whose memory could not all be removed: on the retained
 * list, with a worker removing it once it can. The module stays while it
 * tracks memory. Must be called without kdev->lock.
 */
static void kmem_retain(struct kmem_dev *kdev)
{
	if (READ_ONCE(kmem_exiting)) {
		kmem_abandon(kdev);
		return;
	}
	__module_get(THIS_MODULE);
	kdev->retry_delay_ms = KMEM_RETRY_FIRST_MS;
	mutex_lock(&kmem_retained_lock);
	list_add_tail(&kdev->retained, &kmem_retained_list);
	mutex_unlock(&kmem_retained_lock);
	queue_delayed_work(kmem_wq, &kdev->retry_work,
			   msecs_to_jiffies(KMEM_RETRY_FIRST_MS));
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
 * Take the retained device with the ranges of @probe off the list.
 * Return: it, NULL if there is none, or an ERR_PTR if one overlaps.
 */
static struct kmem_dev *kmem_claim_retained(struct kmem_dev *probe)
{
	struct kmem_dev *kdev, *found = NULL;

	mutex_lock(&kmem_retained_lock);
	list_for_each_entry(kdev, &kmem_retained_list, retained) {
		if (kmem_same_ranges(kdev, probe)) {
			found = kdev;
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

/* The device's ranges, clipped to whole memory blocks. */
static int kmem_init_ranges(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	unsigned int i, n = 0, blocks = 0;

	kdev->ranges = kcalloc(dev_dax->nr_range, sizeof(*kdev->ranges),
			       GFP_KERNEL);
	if (!kdev->ranges)
		return -ENOMEM;
	for (i = 0; i < dev_dax->nr_range; i++) {
		struct range *range = &dev_dax->ranges[i].range;
		u64 start = ALIGN(range->start, kmem_block_size);
		u64 end = ALIGN_DOWN(range->end + 1, kmem_block_size);

		if (start >= end) {
			dev_info(&dev_dax->dev,
				 "mapping%u: %#llx-%#llx too small after alignment\n",
				 i, range->start, range->end);
			continue;
		}
		kdev->ranges[n].start = start;
		kdev->ranges[n].size = end - start;
		kdev->ranges[n].first = blocks;
		blocks += (end - start) >> kmem_block_shift;
		n++;
	}
	kdev->nr_ranges = n;
	kdev->nr_blocks = blocks;
	return 0;
}

/* Reserve the parent resources the System RAM is added under. */
static int kmem_request_ranges(struct kmem_dev *kdev, struct device *dev)
{
	unsigned int i;

	for (i = 0; i < kdev->nr_ranges; i++) {
		struct kmem_range *r = &kdev->ranges[i];

		r->res = request_mem_region(r->start, r->size, kdev->name);
		if (!r->res) {
			dev_warn(dev, "%#llx-%#llx could not reserve region\n",
				 r->start, r->start + r->size - 1);
			return -EBUSY;
		}
		/*
		 * System RAM without IORESOURCE_BUSY, so the memory can be
		 * added as its child; nothing inherited from the parent.
		 */
		r->res->flags = IORESOURCE_SYSTEM_RAM;
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

/* Free a device that never got further than kmem_alloc(). */
static void kmem_release(struct kmem_dev *kdev)
{
	kfree(kdev->ranges);
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
	if (!kdev->name || kmem_init_ranges(kdev, dev_dax)) {
		kmem_release(kdev);
		return NULL;
	}
	return kdev;
}

/* Everything but the memory itself; kmem_free() undoes it. */
static int kmem_setup(struct kmem_dev *kdev, struct dev_dax *dev_dax)
{
	struct device *dev = &dev_dax->dev;
	int adist = KMEM_DEFAULT_ADISTANCE;
	int rc;

	kdev->bstate = kcalloc(kdev->nr_blocks, 1, GFP_KERNEL);
	if (!kdev->bstate)
		return -ENOMEM;
	kdev->count[KMEM_B_UNPLUGGED] = kdev->nr_blocks;

	mt_calc_adistance(kdev->nid, &adist);
	kdev->mtype = kmem_get_mtype(adist);
	if (IS_ERR(kdev->mtype)) {
		rc = PTR_ERR(kdev->mtype);
		kdev->mtype = NULL;
		return rc;
	}
	init_node_memory_type(kdev->nid, kdev->mtype);

	rc = kmem_request_ranges(kdev, dev);
	if (rc)
		return rc;

	rc = memory_group_register_static(kdev->nid,
					  kdev->nr_blocks *
					  PHYS_PFN(kmem_block_size));
	if (rc < 0)
		return rc;
	kdev->mgid = rc;

	kdev->mhp_flags = MHP_NID_IS_MGID | MHP_MERGE_RESOURCE;
	if (dev_dax->memmap_on_memory)
		kdev->mhp_flags |= MHP_MEMMAP_ON_MEMORY;

	return register_memory_notifier(&kdev->nb);
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
		dev_warn(dev, "overlaps memory retained from an earlier binding\n");
		rc = PTR_ERR(old);
		goto free;
	}
	if (old) {
		kmem_release(kdev);
		mutex_lock(&old->lock);
		old->dev_dax = dev_dax;
		mutex_unlock(&old->lock);
		dev_set_drvdata(dev, old);
		dev_info(dev, "re-adopted %llu bytes of retained memory\n",
			 kmem_bytes(kmem_nr_present(old)));
		return 0;
	}

	rc = kmem_setup(kdev, dev_dax);
	if (rc)
		goto free_setup;

	kdev->dev_dax = dev_dax;
	want = kmem_policy_state(dev_dax);
	mutex_lock(&kdev->lock);
	rc = want == KMEM_S_UNPLUGGED ? 0 : kmem_plug_all(kdev, want);
	trace_kmem_transition(kdev->name, kmem_state_names[KMEM_S_UNPLUGGED],
			      kmem_state_names[want], rc);
	mutex_unlock(&kdev->lock);
	if (rc)
		goto free_setup;

	dev_set_drvdata(dev, kdev);
	return 0;

free_setup:
	kdev->dev_dax = NULL;
	if (kmem_nr_present(kdev))
		kmem_retain(kdev);	/* a rollback that failed */
	else
		kmem_free(kdev);
	return rc;
free:
	kmem_release(kdev);
	return rc;
}

/*
 * Unbind cannot fail: remove what can go in bounded time, and keep the rest
 * on the retained list with a worker that removes it once it can.
 */
static void dev_dax_kmem_remove(struct dev_dax *dev_dax)
{
	struct device *dev = &dev_dax->dev;
	struct kmem_dev *kdev = dev_get_drvdata(dev);
	enum kmem_state from;
	unsigned int left;
	int err = 0;

	mutex_lock(&kdev->lock);
	from = kmem_state(kdev);
	kmem_unplug_bounded(kdev);
	left = kmem_nr_present(kdev);
	if (left) {
		struct kmem_failure f = kmem_last_failure(kdev);

		err = f.err;
		dev_warn(dev,
			 "retaining %llu bytes of [mem %#llx-%#llx] that could not be removed (errno=%d pfn=%#lx reason=%s); retrying in the background\n",
			 kmem_bytes(left), kdev->ranges[0].start,
			 kmem_span_end(kdev), f.err, f.pfn, f.reason ?: "none");
	}
	kdev->dev_dax = NULL;
	trace_kmem_transition(kdev->name, kmem_state_names[from],
			      kmem_state_names[KMEM_S_UNPLUGGED], err);
	mutex_unlock(&kdev->lock);
	dev_set_drvdata(dev, NULL);

	if (left)
		kmem_retain(kdev);
	else
		kmem_free(kdev);
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
	debugfs_create_x64("fail_addr", 0600, kmem_debugfs, &kmem_fail_addr);

	rc = dax_driver_register(&device_dax_kmem_driver);
	if (rc)
		goto free_wq;
	return 0;

free_wq:
	debugfs_remove_recursive(kmem_debugfs);
	destroy_workqueue(kmem_wq);
free_name:
	kfree_const(kmem_res_name);
	return rc;
}

static void __exit dax_kmem_exit(void)
{
	WRITE_ONCE(kmem_exiting, true);
	/* retained devices hold a module reference: the list is empty */
	dax_driver_unregister(&device_dax_kmem_driver);
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
