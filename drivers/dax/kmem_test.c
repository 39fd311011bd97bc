// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the pure logic of dax kmem: how a device's ranges become
 * memory blocks (several ranges, unaligned ones, too small ones), the
 * block index <-> address mapping, range comparison for re-adoption, the
 * device state derived from the block counts, the setter that keeps the
 * counts, and what the online policy asks for.
 *
 * Included at the end of kmem.c when CONFIG_DAX_KMEM_KUNIT_TEST is set,
 * so that the static functions are tested as they are. The suite runs
 * when the module is loaded (after its init: the memory block size is
 * known); results are in /sys/kernel/debug/kunit/dax_kmem/results.
 */
#include <kunit/test.h>

#define MB_(n)	((u64)(n) * kmem_block_size)

/* A fake device with @n ranges given as {start, size} pairs of bytes. */
static struct dev_dax *kmem_test_dev_dax(struct kunit *test, unsigned int n,
					 const u64 (*r)[2])
{
	struct dev_dax *dev_dax;
	unsigned int i;

	dev_dax = kunit_kzalloc(test, sizeof(*dev_dax), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax);
	dev_dax->ranges = kunit_kcalloc(test, n, sizeof(*dev_dax->ranges),
					GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax->ranges);
	dev_dax->nr_range = n;
	for (i = 0; i < n; i++) {
		dev_dax->ranges[i].range.start = r[i][0];
		dev_dax->ranges[i].range.end = r[i][0] + r[i][1] - 1;
	}
	return dev_dax;
}

KUNIT_DEFINE_ACTION_WRAPPER(kmem_test_kfree, kfree, const void *);

/* A kdev with the ranges of a fake device and zeroed block states. */
static struct kmem_dev *kmem_test_kdev(struct kunit *test, unsigned int n,
				       const u64 (*r)[2])
{
	struct kmem_dev *kdev;

	kdev = kunit_kzalloc(test, sizeof(*kdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kdev);
	spin_lock_init(&kdev->stat_lock);
	KUNIT_ASSERT_EQ(test, kmem_init_ranges(kdev, kmem_test_dev_dax(test, n, r)), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kmem_test_kfree, kdev->ranges), 0);
	if (kdev->nr_blocks) {
		kdev->bstate = kunit_kzalloc(test, kdev->nr_blocks, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, kdev->bstate);
	}
	kdev->count[KMEM_B_UNPLUGGED] = kdev->nr_blocks;
	return kdev;
}

/*
 * Three ranges as a CXL or hmem device may have them: one aligned, one
 * starting and ending inside blocks, one smaller than a block. The third
 * is dropped, the second clipped inwards, block indices run on.
 */
static void kmem_test_fill(u64 (*r)[2])
{
	r[0][0] = MB_(32);
	r[0][1] = MB_(2);
	r[1][0] = MB_(40) + kmem_block_size / 2;	/* mid-block */
	r[1][1] = MB_(3);			/* ends mid-block */
	r[2][0] = MB_(50) + kmem_block_size / 4;
	r[2][1] = kmem_block_size / 2;		/* inside one block */
}

static void dax_kmem_ranges_clipped(struct kunit *test)
{
	u64 r[3][2];
	struct kmem_dev *kdev;

	kmem_test_fill(r);
	kdev = kmem_test_kdev(test, 3, r);

	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 2);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 4);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].start, MB_(32));
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].size, MB_(2));
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].first, 0);
	/* [40.5, 43.5) blocks: whole blocks 41 and 42 */
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].start, MB_(41));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].size, MB_(2));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].first, 2);
	KUNIT_EXPECT_EQ(test, kmem_span_end(kdev), MB_(43) - 1);
}

static void dax_kmem_ranges_none_left(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	struct kmem_dev *kdev;

	r[0][0] = MB_(8) + 4096;
	r[0][1] = kmem_block_size;	/* straddles two blocks, fills none */
	kdev = kmem_test_kdev(test, 1, r);
	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 0);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 0);
}

static void dax_kmem_block_addr_round_trip(struct kunit *test)
{
	static const unsigned int want[] = { 32, 33, 41, 42 };
	u64 r[3][2];
	struct kmem_dev *kdev;
	unsigned int i;

	kmem_test_fill(r);
	kdev = kmem_test_kdev(test, 3, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_blocks, ARRAY_SIZE(want));

	for (i = 0; i < kdev->nr_blocks; i++) {
		u64 addr = kmem_block_addr(kdev, i);

		KUNIT_EXPECT_EQ(test, addr, MB_(want[i]));
		KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, addr), (int)i);
		/* any byte of the block maps to it */
		KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, addr + kmem_block_size - 1), (int)i);
	}
	/* the hole between the ranges, the clipped edges, the dropped range */
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(34)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(40)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(43)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(50)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(32) - 1), -1);
}

static void dax_kmem_same_and_overlapping_ranges(struct kunit *test)
{
	u64 a[2][2] = { { 0, 0 }, { 0, 0 } };
	u64 b[2][2], c[1][2] = { { 0, 0 } }, d[1][2] = { { 0, 0 } };
	struct kmem_dev *ka, *kb, *kc, *kd;

	a[0][0] = MB_(16);
	a[0][1] = MB_(2);
	a[1][0] = MB_(20);
	a[1][1] = MB_(1);
	memcpy(b, a, sizeof(b));
	c[0][0] = MB_(17);	/* inside a's first range */
	c[0][1] = MB_(1);
	d[0][0] = MB_(18);	/* the hole between a's ranges */
	d[0][1] = MB_(2);
	ka = kmem_test_kdev(test, 2, a);
	kb = kmem_test_kdev(test, 2, b);
	kc = kmem_test_kdev(test, 1, c);
	kd = kmem_test_kdev(test, 1, d);

	KUNIT_EXPECT_TRUE(test, kmem_same_ranges(ka, kb));
	KUNIT_EXPECT_TRUE(test, kmem_overlaps(ka, kb));
	KUNIT_EXPECT_FALSE(test, kmem_same_ranges(ka, kc));
	KUNIT_EXPECT_TRUE(test, kmem_overlaps(ka, kc));
	KUNIT_EXPECT_TRUE(test, kmem_overlaps(kc, ka));
	KUNIT_EXPECT_FALSE(test, kmem_same_ranges(ka, kd));
	KUNIT_EXPECT_FALSE(test, kmem_overlaps(ka, kd));
	KUNIT_EXPECT_FALSE(test, kmem_overlaps(kd, ka));

	/* only a's first range: not the same device, but in the way */
	kb = kmem_test_kdev(test, 1, b);
	KUNIT_EXPECT_FALSE(test, kmem_same_ranges(ka, kb));
	KUNIT_EXPECT_TRUE(test, kmem_overlaps(ka, kb));
}

/* The state a device reads as, from its block counts. */
struct kmem_state_case {
	const char *desc;
	unsigned int offline, kernel, movable, unplugged;
	bool want_online;
	enum kmem_state want;
};

static const struct kmem_state_case kmem_state_cases[] = {
	{ "nothing present", 0, 0, 0, 4, false, KMEM_S_UNPLUGGED },
	{ "all offline", 4, 0, 0, 0, false, KMEM_S_OFFLINE },
	{ "some present, all offline", 2, 0, 0, 2, false, KMEM_S_OFFLINE },
	{ "all movable", 0, 0, 4, 0, false, KMEM_S_ONLINE_MOVABLE },
	{ "all kernel", 0, 4, 0, 0, false, KMEM_S_ONLINE_KERNEL },
	{ "mixed zones", 0, 1, 3, 0, false, KMEM_S_ONLINE },
	{ "one offline among movable", 1, 0, 3, 0, false, KMEM_S_ONLINE },
	{ "onlined as online, all movable", 0, 0, 4, 0, true, KMEM_S_ONLINE },
	{ "onlined as online, all kernel", 0, 4, 0, 0, true, KMEM_S_ONLINE },
	{ "movable part present, rest unplugged", 0, 0, 2, 2, false, KMEM_S_ONLINE_MOVABLE },
};

static void kmem_state_case_desc(const struct kmem_state_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kmem_state, kmem_state_cases, kmem_state_case_desc);

static void dax_kmem_state_of_counts(struct kunit *test)
{
	const struct kmem_state_case *c = test->param_value;
	struct kmem_dev *kdev;
	enum kmem_state got;

	kdev = kunit_kzalloc(test, sizeof(*kdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kdev);
	spin_lock_init(&kdev->stat_lock);
	kdev->nr_blocks = c->offline + c->kernel + c->movable + c->unplugged;
	kdev->count[KMEM_B_UNPLUGGED] = c->unplugged;
	kdev->count[KMEM_B_OFFLINE] = c->offline;
	kdev->count[KMEM_B_KERNEL] = c->kernel;
	kdev->count[KMEM_B_MOVABLE] = c->movable;
	kdev->want_online = c->want_online;

	spin_lock(&kdev->stat_lock);
	got = kmem_state_of(kdev);
	spin_unlock(&kdev->stat_lock);
	KUNIT_EXPECT_STREQ(test, kmem_state_names[got], kmem_state_names[c->want]);
}

/* The one setter keeps count[] equal to a recount of bstate[]. */
static void dax_kmem_set_bstate_keeps_counts(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	unsigned int seq[] = { 3, 0, 5, 3, 7, 0, 1, 3, 6, 2, 0, 4, 3, 5 };
	unsigned int i, s, recount[KMEM_B_MAX];
	struct kmem_dev *kdev;

	r[0][0] = MB_(64);
	r[0][1] = MB_(8);
	kdev = kmem_test_kdev(test, 1, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_blocks, 8);

	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		spin_lock(&kdev->stat_lock);
		kmem_set_bstate(kdev, seq[i], (seq[i] + i) % KMEM_B_MAX);
		spin_unlock(&kdev->stat_lock);

		memset(recount, 0, sizeof(recount));
		for (s = 0; s < kdev->nr_blocks; s++)
			recount[kdev->bstate[s]]++;
		for (s = 0; s < KMEM_B_MAX; s++)
			KUNIT_EXPECT_EQ(test, kdev->count[s], recount[s]);
	}
	KUNIT_EXPECT_EQ(test, kmem_nr_present(kdev),
			kdev->nr_blocks - recount[KMEM_B_UNPLUGGED]);
}

/* What a bind makes of the memory, from the device's and module's policy. */
static void dax_kmem_policy_state(struct kunit *test)
{
	static const struct {
		int policy;
		enum kmem_state want;
	} cases[] = {
		{ DAX_ONLINE_POLICY_UNPLUGGED, KMEM_S_UNPLUGGED },
		{ DAX_ONLINE_POLICY_OFFLINE, KMEM_S_OFFLINE },
		{ DAX_ONLINE_POLICY_ONLINE, KMEM_S_ONLINE },
		{ DAX_ONLINE_POLICY_ONLINE_KERNEL, KMEM_S_ONLINE_KERNEL },
		{ DAX_ONLINE_POLICY_ONLINE_MOVABLE, KMEM_S_ONLINE_MOVABLE },
	};
	int saved = READ_ONCE(kmem_default_policy);
	enum kmem_state sys;
	struct dev_dax *dev_dax;
	unsigned int i;

	dev_dax = kunit_kzalloc(test, sizeof(*dev_dax), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax);

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		/* the device's own word wins over the module's */
		WRITE_ONCE(kmem_default_policy, DAX_ONLINE_POLICY_UNPLUGGED);
		dev_dax->online_policy = cases[i].policy;
		KUNIT_EXPECT_EQ(test, kmem_policy_state(dev_dax), cases[i].want);
		/* "default" takes the module's */
		WRITE_ONCE(kmem_default_policy, cases[i].policy);
		dev_dax->online_policy = DAX_ONLINE_POLICY_DEFAULT;
		KUNIT_EXPECT_EQ(test, kmem_policy_state(dev_dax), cases[i].want);
	}

	/* "system" follows the memory hotplug default online type */
	switch (mhp_get_default_online_type()) {
	case MMOP_ONLINE:
		sys = KMEM_S_ONLINE;
		break;
	case MMOP_ONLINE_KERNEL:
		sys = KMEM_S_ONLINE_KERNEL;
		break;
	case MMOP_ONLINE_MOVABLE:
		sys = KMEM_S_ONLINE_MOVABLE;
		break;
	default:
		sys = KMEM_S_OFFLINE;
		break;
	}
	dev_dax->online_policy = DAX_ONLINE_POLICY_SYSTEM;
	KUNIT_EXPECT_EQ(test, kmem_policy_state(dev_dax), sys);
	WRITE_ONCE(kmem_default_policy, DAX_ONLINE_POLICY_SYSTEM);
	dev_dax->online_policy = DAX_ONLINE_POLICY_DEFAULT;
	KUNIT_EXPECT_EQ(test, kmem_policy_state(dev_dax), sys);

	WRITE_ONCE(kmem_default_policy, saved);
}

/* Each state and block state maps to the online type that recreates it. */
static void dax_kmem_mmop_of_states(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, kmem_state_mmop(KMEM_S_UNPLUGGED), MMOP_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_state_mmop(KMEM_S_OFFLINE), MMOP_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_state_mmop(KMEM_S_ONLINE), MMOP_ONLINE);
	KUNIT_EXPECT_EQ(test, kmem_state_mmop(KMEM_S_ONLINE_KERNEL), MMOP_ONLINE_KERNEL);
	KUNIT_EXPECT_EQ(test, kmem_state_mmop(KMEM_S_ONLINE_MOVABLE), MMOP_ONLINE_MOVABLE);
	KUNIT_EXPECT_EQ(test, kmem_bstate_mmop(KMEM_B_UNPLUGGED), MMOP_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_bstate_mmop(KMEM_B_OFFLINE), MMOP_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_bstate_mmop(KMEM_B_KERNEL), MMOP_ONLINE_KERNEL);
	KUNIT_EXPECT_EQ(test, kmem_bstate_mmop(KMEM_B_MOVABLE), MMOP_ONLINE_MOVABLE);
}

static struct kunit_case dax_kmem_test_cases[] = {
	KUNIT_CASE(dax_kmem_ranges_clipped),
	KUNIT_CASE(dax_kmem_ranges_none_left),
	KUNIT_CASE(dax_kmem_block_addr_round_trip),
	KUNIT_CASE(dax_kmem_same_and_overlapping_ranges),
	KUNIT_CASE_PARAM(dax_kmem_state_of_counts, kmem_state_gen_params),
	KUNIT_CASE(dax_kmem_set_bstate_keeps_counts),
	KUNIT_CASE(dax_kmem_policy_state),
	KUNIT_CASE(dax_kmem_mmop_of_states),
	{}
};

static struct kunit_suite dax_kmem_test_suite = {
	.name = "dax_kmem",
	.test_cases = dax_kmem_test_cases,
};

kunit_test_suite(dax_kmem_test_suite);
