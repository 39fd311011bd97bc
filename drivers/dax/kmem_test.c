// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the pure logic of dax kmem: how a device's ranges become
 * memory blocks (several ranges, unaligned ones, too small ones), the
 * block index <-> address mapping, range comparison for re-adoption, the
 * device state derived from the block counts, the setter that keeps the
 * counts, what the online policy asks for, how ranges and pfns are shown,
 * which foreign memory block changes are refused, whom retained memory may
 * be re-adopted by, and that the device's placeholder resource is not
 * reported as System RAM.
 *
 * Included at the end of kmem.c when CONFIG_DAX_KMEM_KUNIT_TEST is set,
 * so that the static functions are tested as they are. The suite runs
 * when the module is loaded (after its init: the memory block size is
 * known); results are in /sys/kernel/debug/kunit/dax_kmem/results.
 */
#include <kunit/test.h>

#define MB_(n)	((u64)(n) * kmem_block_size)

#define SZ_SUB	PFN_PHYS(mhp_subblock_pages())

/* A fake device with @n ranges given as {start, size} pairs of bytes. */
static struct dev_dax *kmem_test_dev_dax(struct kunit *test, unsigned int n,
					 const u64 (*r)[2], bool memmap_on_memory)
{
	struct dev_dax *dev_dax;
	unsigned int i;

	dev_dax = kunit_kzalloc(test, sizeof(*dev_dax), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax);
	dev_dax->ranges = kunit_kcalloc(test, n, sizeof(*dev_dax->ranges),
					GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax->ranges);
	dev_dax->nr_range = n;
	dev_dax->memmap = memmap_on_memory ? DAX_MEMMAP_MEMORY : DAX_MEMMAP_DRAM;
	for (i = 0; i < n; i++) {
		dev_dax->ranges[i].range.start = r[i][0];
		dev_dax->ranges[i].range.end = r[i][0] + r[i][1] - 1;
	}
	return dev_dax;
}

KUNIT_DEFINE_ACTION_WRAPPER(kmem_test_kfree, kfree, const void *);

/*
 * A kdev with the ranges of a fake device and zeroed block states; with
 * @mom the device has memmap_on_memory, with @sub kmem.subblock is set
 * (2 MiB clipping unless @mom).
 */
static struct kmem_dev *kmem_test_kdev_opts(struct kunit *test, unsigned int n,
					    const u64 (*r)[2], bool mom, bool sub)
{
	struct kmem_dev *kdev;

	kdev = kunit_kzalloc(test, sizeof(*kdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kdev);
	spin_lock_init(&kdev->stat_lock);
	KUNIT_ASSERT_EQ(test, kmem_init_ranges(kdev, kmem_test_dev_dax(test, n, r, mom),
					       sub), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kmem_test_kfree, kdev->ranges), 0);
	if (kdev->nr_blocks) {
		kdev->bstate = kunit_kzalloc(test, kdev->nr_blocks, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, kdev->bstate);
	}
	kdev->count[KMEM_B_UNPLUGGED] = kdev->nr_blocks;
	kdev->bytes[KMEM_B_UNPLUGGED] = kdev->size;
	return kdev;
}

/* whole blocks: memmap_on_memory */
static struct kmem_dev *kmem_test_kdev_mom(struct kunit *test, unsigned int n,
					   const u64 (*r)[2])
{
	return kmem_test_kdev_opts(test, n, r, true, true);
}

/* 2 MiB clipping: kmem.subblock */
static struct kmem_dev *kmem_test_kdev(struct kunit *test, unsigned int n,
				       const u64 (*r)[2])
{
	return kmem_test_kdev_opts(test, n, r, false, true);
}

/*
 * Three ranges as a CXL or hmem device may have them: one aligned, one
 * starting and ending inside blocks, one smaller than a block, all 2 MiB
 * aligned. With memmap_on_memory the third is dropped and the second
 * clipped inwards to whole blocks; without, every byte is kept and the
 * partial blocks are blocks of their own. Block indices run on.
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

/* false: kmem.subblock off; true: memmap_on_memory with kmem.subblock on */
static const bool kmem_whole_cases[] = { false, true };

static void kmem_whole_case_desc(const bool *c, char *desc)
{
	strscpy(desc, *c ? "memmap_on_memory" : "subblock_off", KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kmem_whole, kmem_whole_cases, kmem_whole_case_desc);

/* Whole blocks: kmem.subblock off, or memmap_on_memory (whatever subblock says). */
static void dax_kmem_ranges_clipped(struct kunit *test)
{
	const bool *whole_by_mom = test->param_value;
	u64 r[3][2];
	struct kmem_dev *kdev;

	kmem_test_fill(r);
	kdev = kmem_test_kdev_opts(test, 3, r, *whole_by_mom, *whole_by_mom);

	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 2);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 4);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].start, MB_(32));
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].size, MB_(2));
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].first, 0);
	/* [40.5, 43.5) blocks: whole blocks 41 and 42 */
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].start, MB_(41));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].size, MB_(2));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].first, 2);
	/* one block present in the second range, none in the first */
	kdev->bstate[3] = KMEM_B_MOVABLE;
	KUNIT_EXPECT_EQ(test, kmem_range_present(kdev, &kdev->ranges[0]), 0);
	KUNIT_EXPECT_EQ(test, kmem_range_present(kdev, &kdev->ranges[1]), MB_(1));
}

static void dax_kmem_ranges_subblock(struct kunit *test)
{
	u64 r[3][2];
	struct kmem_dev *kdev;

	kmem_test_fill(r);
	kdev = kmem_test_kdev(test, 3, r);

	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 3);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 7);
	KUNIT_EXPECT_EQ(test, kdev->size, MB_(2) + MB_(3) + kmem_block_size / 2);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].start, r[1][0]);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].size, MB_(3));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].first, 2);
	/* [40.5, 43.5): half of 40, 41, 42, half of 43 */
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].nr, 4);
	KUNIT_EXPECT_EQ(test, kdev->ranges[2].start, r[2][0]);
	KUNIT_EXPECT_EQ(test, kdev->ranges[2].first, 6);
	KUNIT_EXPECT_EQ(test, kdev->ranges[2].nr, 1);
	/* the half block at the head and the whole one after it */
	kdev->bstate[2] = KMEM_B_MOVABLE;
	kdev->bstate[3] = KMEM_B_MOVABLE;
	KUNIT_EXPECT_EQ(test, kmem_range_present(kdev, &kdev->ranges[1]),
			MB_(1) + kmem_block_size / 2);
}

/* The System RAM kmem_test_taken() reports: [start, end). */
static u64 kmem_test_ram[2];

static bool kmem_test_taken(u64 start, u64 end)
{
	return start < kmem_test_ram[1] && end > kmem_test_ram[0];
}

/*
 * Whole blocks get consecutive memmap slices of the reservation, in block
 * order, from its first PMD-aligned pfn while they fit; partial blocks and
 * those that do not fit get none (their memmap comes from DRAM).
 */
static void dax_kmem_memmap_slices(struct kunit *test)
{
	const u64 half = kmem_block_size / 2;
	/* [40.5, 44.5): partial 40, whole 41 42 43, partial 44 */
	u64 r[1][2] = { { MB_(40) + half, MB_(4) } };
	unsigned long nr = kmem_memmap_pages(), pmd = PHYS_PFN(PMD_SIZE);
	unsigned long start = PHYS_PFN(MB_(40)) + 2, base = ALIGN(start, pmd);
	unsigned int whole;
	struct kmem_dev *kdev;

	kdev = kmem_test_kdev(test, 1, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_blocks, 5);
	kdev->slice = kunit_kcalloc(test, kdev->nr_blocks, sizeof(*kdev->slice),
				    GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, kdev->slice);

	/* room for all three */
	KUNIT_EXPECT_EQ(test, kmem_place_slices(kdev, start, base + 3 * nr,
						&whole), 3);
	KUNIT_EXPECT_EQ(test, whole, 3);
	KUNIT_EXPECT_EQ(test, kdev->slice[0], 0);
	KUNIT_EXPECT_EQ(test, kdev->slice[1], base);
	KUNIT_EXPECT_EQ(test, kdev->slice[2], base + nr);
	KUNIT_EXPECT_EQ(test, kdev->slice[3], base + 2 * nr);
	KUNIT_EXPECT_EQ(test, kdev->slice[4], 0);
	KUNIT_EXPECT_TRUE(test, IS_ALIGNED(kdev->slice[3], pmd));

	/* one page short of the third: the last whole block gets none */
	memset(kdev->slice, 0, kdev->nr_blocks * sizeof(*kdev->slice));
	KUNIT_EXPECT_EQ(test, kmem_place_slices(kdev, start,
						base + 3 * nr - 1, &whole), 2);
	KUNIT_EXPECT_EQ(test, whole, 3);
	KUNIT_EXPECT_EQ(test, kdev->slice[2], base + nr);
	KUNIT_EXPECT_EQ(test, kdev->slice[3], 0);

	/* a space that ends before its first aligned pfn holds nothing */
	memset(kdev->slice, 0, kdev->nr_blocks * sizeof(*kdev->slice));
	KUNIT_EXPECT_EQ(test, kmem_place_slices(kdev, start, base - 1, &whole),
			0);
	KUNIT_EXPECT_EQ(test, kdev->slice[1], 0);
}

/*
 * A partial block whose other part is System RAM is left out, at either
 * end; one that is all a range has is kept (the core then names the owner).
 */
static void dax_kmem_trim_shared(struct kunit *test)
{
	const u64 half = kmem_block_size / 2;
	u64 r[2][2] = {
		{ MB_(40) + half, MB_(3) },		/* [40.5, 43.5) */
		{ MB_(50) + half / 2, half },		/* inside block 50 */
	};
	struct kmem_dev *kdev;

	/* nothing else there: nothing changes */
	kmem_test_ram[0] = 0;
	kmem_test_ram[1] = 0;
	kdev = kmem_test_kdev(test, 2, r);
	kdev->name = "trim";
	KUNIT_EXPECT_EQ(test, kmem_trim_shared(kdev, kmem_test_taken), 0);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 5);

	/* RAM below the head: the range starts at block 41 */
	kmem_test_ram[0] = MB_(40);
	kmem_test_ram[1] = MB_(40) + half;
	kdev = kmem_test_kdev(test, 2, r);
	kdev->name = "trim";
	KUNIT_EXPECT_EQ(test, kmem_trim_shared(kdev, kmem_test_taken), 1);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].start, MB_(41));
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].size, MB_(2) + half);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].nr, 3);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].first, 3);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 4);
	KUNIT_EXPECT_EQ(test, kdev->size, MB_(2) + half + half);

	/* RAM above the tail: the range ends at block 43 */
	kmem_test_ram[0] = MB_(43) + half + SZ_SUB;
	kmem_test_ram[1] = MB_(44);
	kdev = kmem_test_kdev(test, 2, r);
	kdev->name = "trim";
	KUNIT_EXPECT_EQ(test, kmem_trim_shared(kdev, kmem_test_taken), 1);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].start, MB_(40) + half);
	KUNIT_EXPECT_EQ(test, kdev->ranges[0].size, half + MB_(2));
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 4);

	/* RAM all around block 50's range: it is all that range has, kept */
	kmem_test_ram[0] = MB_(50);
	kmem_test_ram[1] = MB_(51);
	kdev = kmem_test_kdev(test, 2, r);
	kdev->name = "trim";
	KUNIT_EXPECT_EQ(test, kmem_trim_shared(kdev, kmem_test_taken), 0);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].start, r[1][0]);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].size, half);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 5);
}

/* Two ranges meeting inside one block: the later one starts at the next. */
static void dax_kmem_ranges_share_block(struct kunit *test)
{
	u64 r[2][2];
	struct kmem_dev *kdev;

	r[0][0] = MB_(10);
	r[0][1] = kmem_block_size / 4;
	r[1][0] = MB_(10) + kmem_block_size / 2;
	r[1][1] = MB_(1);
	kdev = kmem_test_kdev(test, 2, r);
	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 2);
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].start, MB_(11));
	KUNIT_EXPECT_EQ(test, kdev->ranges[1].size, kmem_block_size / 2);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 2);
}

static void dax_kmem_ranges_none_left(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	struct kmem_dev *kdev;

	r[0][0] = MB_(8) + 4096;
	r[0][1] = kmem_block_size;	/* straddles two blocks, fills none */
	kdev = kmem_test_kdev_mom(test, 1, r);
	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 0);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 0);

	r[0][1] = SZ_SUB;		/* straddles two 2 MiB, fills none */
	kdev = kmem_test_kdev(test, 1, r);
	KUNIT_EXPECT_EQ(test, kdev->nr_ranges, 0);
	KUNIT_EXPECT_EQ(test, kdev->nr_blocks, 0);
}

static void dax_kmem_block_addr_round_trip(struct kunit *test)
{
	/* start and length of each block's part, in quarter blocks */
	static const unsigned int want[][2] = {
		{ 128, 4 }, { 132, 4 }, { 162, 2 }, { 164, 4 }, { 168, 4 },
		{ 172, 2 }, { 201, 2 },
	};
	const u64 q = kmem_block_size / 4;
	u64 r[3][2], addr, len;
	struct kmem_dev *kdev;
	unsigned int i;

	kmem_test_fill(r);
	kdev = kmem_test_kdev(test, 3, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_blocks, ARRAY_SIZE(want));

	for (i = 0; i < kdev->nr_blocks; i++) {
		len = kmem_block_span(kdev, i, &addr);
		KUNIT_EXPECT_EQ(test, addr, want[i][0] * q);
		KUNIT_EXPECT_EQ(test, len, want[i][1] * q);
		KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, addr), (int)i);
		/* any byte of the part maps to it */
		KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, addr + len - 1), (int)i);
	}
	/* the hole between the ranges, the edges */
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(34)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(40)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(43) + 2 * q), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(50)), -1);
	KUNIT_EXPECT_EQ(test, kmem_block_of(kdev, MB_(50) + 3 * q), -1);
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
	u64 rebytes[KMEM_B_MAX];
	struct kmem_dev *kdev;

	/* partial first and last blocks: bytes[] must weigh them */
	r[0][0] = MB_(64) - SZ_SUB;
	r[0][1] = MB_(7) + 2 * SZ_SUB;
	kdev = kmem_test_kdev(test, 1, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_blocks, 9);

	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		spin_lock(&kdev->stat_lock);
		kmem_set_bstate(kdev, seq[i], (seq[i] + i) % KMEM_B_MAX);
		spin_unlock(&kdev->stat_lock);

		memset(recount, 0, sizeof(recount));
		memset(rebytes, 0, sizeof(rebytes));
		for (s = 0; s < kdev->nr_blocks; s++) {
			recount[kdev->bstate[s]]++;
			rebytes[kdev->bstate[s]] += kmem_block_len(kdev, s);
		}
		for (s = 0; s < KMEM_B_MAX; s++) {
			KUNIT_EXPECT_EQ(test, kdev->count[s], recount[s]);
			KUNIT_EXPECT_EQ(test, kdev->bytes[s], rebytes[s]);
		}
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

/*
 * Descending ranges, as a dynamic device resized in pieces may have them:
 * the retained line names each range, start before end, in the device's
 * order, and never one span from the first start to the last end.
 */
static void dax_kmem_ranges_emitted(struct kunit *test)
{
	u64 r[2][2] = { { 0, 0 }, { 0, 0 } };
	struct kmem_dev *kdev;
	char *buf, want[80];
	int len;

	r[0][0] = MB_(40);
	r[0][1] = MB_(2);
	r[1][0] = MB_(16);
	r[1][1] = MB_(1);
	kdev = kmem_test_kdev(test, 2, r);
	KUNIT_ASSERT_EQ(test, kdev->nr_ranges, 2);
	buf = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);

	len = kmem_emit_ranges(kdev, buf, 0);
	snprintf(want, sizeof(want), "%llx-%llx,%llx-%llx", MB_(40),
		 MB_(42) - 1, MB_(16), MB_(17) - 1);
	KUNIT_EXPECT_STREQ(test, buf, want);
	KUNIT_EXPECT_EQ(test, len, (int)strlen(want));
	/* printed after what is already there */
	KUNIT_EXPECT_EQ(test, kmem_emit_ranges(kdev, buf, len), len);
	KUNIT_EXPECT_EQ(test, strlen(buf), 2 * strlen(want));
}

/* Retained memory is re-adopted by a device of its node only. */
static void dax_kmem_adopt_node(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	struct kmem_dev *old, *probe;

	r[0][0] = MB_(8);
	r[0][1] = MB_(2);
	old = kmem_test_kdev(test, 1, r);
	probe = kmem_test_kdev(test, 1, r);
	old->nid = 1;
	probe->nid = 1;
	KUNIT_EXPECT_EQ(test, kmem_adopt_check(old, probe), 0);
	probe->nid = 2;
	KUNIT_EXPECT_EQ(test, kmem_adopt_check(old, probe), -EXDEV);
}

/* kmem_veto() as the notifier calls it: under kdev->stat_lock. */
static int kmem_test_veto(struct kmem_dev *kdev, unsigned long action,
			  enum zone_type zone, struct task_struct *task)
{
	const char *why;
	int rc;

	spin_lock(&kdev->stat_lock);
	rc = kmem_veto(kdev, action, zone, task, &why);
	spin_unlock(&kdev->stat_lock);
	return rc;
}

static void kmem_test_set(struct kmem_dev *kdev, unsigned int idx,
			  enum kmem_bstate state)
{
	spin_lock(&kdev->stat_lock);
	kmem_set_bstate(kdev, idx, state);
	spin_unlock(&kdev->stat_lock);
}

/*
 * MEM_GOING_* events: during a transition of ours only its own task may
 * change our blocks, anybody else gets -EBUSY; outside one, onlining into
 * a kernel zone is refused with -EPERM while the device is movable (flag,
 * or all its online memory movable), and everything else goes.
 */
static void dax_kmem_veto(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	struct task_struct *other = (struct task_struct *)test;
	struct kmem_dev *kdev;

	r[0][0] = MB_(8);
	r[0][1] = MB_(3);
	kdev = kmem_test_kdev(test, 1, r);

	kdev->busy = true;
	kdev->actor = current;
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, other), -EBUSY);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other), -EBUSY);
	/* the transition's own changes, whatever the zone */
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, current), 0);
	kdev->movable = true;
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, current), 0);
	kdev->movable = false;
	kdev->busy = false;
	kdev->actor = NULL;

	/* offline blocks only, no flag: any zone */
	kmem_test_set(kdev, 0, KMEM_B_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), 0);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_NORMAL, other), 0);
	/* onlined movable by somebody else: stays movable */
	kmem_test_set(kdev, 1, KMEM_B_MOVABLE);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), -EPERM);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other), 0);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, other), 0);
	/* already mixed: kernel zones are fine */
	kmem_test_set(kdev, 2, KMEM_B_KERNEL);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), 0);
	/* unless the device was onlined online_movable */
	kdev->movable = true;
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), -EPERM);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other), 0);
}

/*
 * Once the provider has said the device is going away or its memory
 * failed, no block of it goes online again, in any zone, by anybody (our
 * own transitions included); offlining stays the notifier's business as
 * before (a foreign one during a transition of ours is still -EBUSY).
 */
static void dax_kmem_veto_after_loss(struct kunit *test)
{
	u64 r[1][2] = { { MB_(8), MB_(3) } };
	struct task_struct *other = (struct task_struct *)test;
	struct kmem_dev *kdev = kmem_test_kdev(test, 1, r);
	struct task_struct *self = current;
	enum kmem_loss loss;

	kmem_test_set(kdev, 0, KMEM_B_OFFLINE);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other), 0);
	for (loss = KMEM_LOSS_TEARDOWN; loss < KMEM_LOSS_MAX; loss++) {
		kdev->loss = loss;
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other),
				-ENXIO);
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other),
				-ENXIO);
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, other),
				0);
		kdev->busy = true;
		kdev->actor = self;
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, self),
				-ENXIO);
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, self),
				0);
		KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_MOVABLE, other),
				-EBUSY);
		kdev->busy = false;
		kdev->actor = NULL;
	}
}

/*
 * A device that may go without warning gets no kernel zone unless
 * kernel_zone_surprise is set: another writer's online is vetoed, our
 * online_kernel is refused before it starts and our online picks among
 * ZONE_MOVABLE only; a transition of ours that runs (a rollback) may put
 * a block back in a kernel zone. ZONE_MOVABLE and offlining are not its
 * business.
 */
static void dax_kmem_veto_surprise(struct kunit *test)
{
	u64 r[1][2] = { { 0, 0 } };
	struct task_struct *other = (struct task_struct *)test;
	bool was = kernel_zone_surprise;
	struct kmem_dev *kdev;

	r[0][0] = MB_(8);
	r[0][1] = MB_(3);
	kdev = kmem_test_kdev(test, 1, r);
	kmem_test_set(kdev, 0, KMEM_B_OFFLINE);
	kdev->surprise = true;
	kernel_zone_surprise = false;

	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), -EPERM);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_MOVABLE, other), 0);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_OFFLINE, ZONE_NORMAL, other), 0);
	/* our own transitions: online_kernel refused, online movable only */
	KUNIT_EXPECT_EQ(test, kmem_want_refused(kdev, KMEM_S_ONLINE_KERNEL), -EPERM);
	KUNIT_EXPECT_EQ(test, kmem_want_refused(kdev, KMEM_S_ONLINE), 0);
	KUNIT_EXPECT_EQ(test, kmem_want_refused(kdev, KMEM_S_ONLINE_MOVABLE), 0);
	KUNIT_EXPECT_EQ(test, kmem_online_type(kdev, KMEM_S_ONLINE), MMOP_ONLINE_MOVABLE);
	KUNIT_EXPECT_EQ(test, kmem_online_type(kdev, KMEM_S_OFFLINE), MMOP_OFFLINE);
	/* a transition's own changes go: a rollback puts kernel blocks back */
	kdev->busy = true;
	kdev->actor = current;
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, current), 0);
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), -EBUSY);
	kdev->busy = false;
	kdev->actor = NULL;
	/* the override: the rules of any other device */
	kernel_zone_surprise = true;
	KUNIT_EXPECT_EQ(test, kmem_test_veto(kdev, MEM_GOING_ONLINE, ZONE_NORMAL, other), 0);
	KUNIT_EXPECT_EQ(test, kmem_want_refused(kdev, KMEM_S_ONLINE_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, kmem_online_type(kdev, KMEM_S_ONLINE), MMOP_ONLINE);
	kernel_zone_surprise = was;
}

/*
 * The state a bind brings a surprise device to: the device's own
 * online_kernel stays (kmem_want_refused() refuses it), a default that
 * resolves to online_kernel becomes online_movable; with the override,
 * or for an announced device, the policy is taken as it is.
 */
static void dax_kmem_bind_want_surprise(struct kunit *test)
{
	u64 r[1][2] = { { MB_(8), MB_(3) } };
	int saved = READ_ONCE(kmem_default_policy);
	bool was = kernel_zone_surprise;
	struct dev_dax *dev_dax;
	struct kmem_dev *kdev;

	dev_dax = kunit_kzalloc(test, sizeof(*dev_dax), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dev_dax);
	kdev = kmem_test_kdev(test, 1, r);
	kernel_zone_surprise = false;
	WRITE_ONCE(kmem_default_policy, DAX_ONLINE_POLICY_ONLINE_KERNEL);

	dev_dax->removal = DAX_REMOVAL_SURPRISE;
	kmem_set_surprise(kdev, dev_dax);
	dev_dax->online_policy = DAX_ONLINE_POLICY_ONLINE_KERNEL;
	KUNIT_EXPECT_EQ(test, kmem_bind_want(kdev, dev_dax), KMEM_S_ONLINE_KERNEL);
	KUNIT_EXPECT_EQ(test, kmem_want_refused(kdev, KMEM_S_ONLINE_KERNEL), -EPERM);
	dev_dax->online_policy = DAX_ONLINE_POLICY_DEFAULT;
	KUNIT_EXPECT_EQ(test, kmem_bind_want(kdev, dev_dax), KMEM_S_ONLINE_MOVABLE);
	dev_dax->online_policy = DAX_ONLINE_POLICY_ONLINE;
	KUNIT_EXPECT_EQ(test, kmem_bind_want(kdev, dev_dax), KMEM_S_ONLINE);

	kernel_zone_surprise = true;
	dev_dax->online_policy = DAX_ONLINE_POLICY_DEFAULT;
	KUNIT_EXPECT_EQ(test, kmem_bind_want(kdev, dev_dax), KMEM_S_ONLINE_KERNEL);
	kernel_zone_surprise = false;

	dev_dax->removal = DAX_REMOVAL_ANNOUNCED;
	kmem_set_surprise(kdev, dev_dax);
	KUNIT_EXPECT_EQ(test, kmem_bind_want(kdev, dev_dax), KMEM_S_ONLINE_KERNEL);

	WRITE_ONCE(kmem_default_policy, saved);
	kernel_zone_surprise = was;
}

/*
 * The loss of the backing takes kernel memory away with a block online in
 * a kernel zone when the memory failed, or when a device that may go
 * without warning is torn down; an announced device's teardown leaves it
 * readable, and movable or offline blocks hold no kernel data.
 */
static void dax_kmem_kernel_lost(struct kunit *test)
{
	u64 r[1][2] = { { MB_(8), MB_(3) } };
	struct kmem_dev *kdev = kmem_test_kdev(test, 1, r);
	static const struct {
		enum kmem_bstate b;
		enum kmem_loss loss;
		bool surprise;
		bool lost;
	} t[] = {
		{ KMEM_B_KERNEL, KMEM_LOSS_NONE, true, false },
		{ KMEM_B_KERNEL, KMEM_LOSS_TEARDOWN, false, false },
		{ KMEM_B_KERNEL, KMEM_LOSS_TEARDOWN, true, true },
		{ KMEM_B_KERNEL, KMEM_LOSS_GONE, false, true },
		{ KMEM_B_KERNEL, KMEM_LOSS_GONE, true, true },
		{ KMEM_B_MOVABLE, KMEM_LOSS_GONE, true, false },
		{ KMEM_B_OFFLINE, KMEM_LOSS_GONE, true, false },
		{ KMEM_B_UNPLUGGED, KMEM_LOSS_GONE, true, false },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		kdev->surprise = t[i].surprise;
		kmem_test_set(kdev, 1, t[i].b);
		spin_lock(&kdev->stat_lock);
		KUNIT_EXPECT_EQ_MSG(test, kmem_kernel_lost(kdev, 1, t[i].loss),
				    t[i].lost, "case %u", i);
		/* block 0 stays unplugged: never lost */
		KUNIT_EXPECT_FALSE(test, kmem_kernel_lost(kdev, 0, t[i].loss));
		spin_unlock(&kdev->stat_lock);
	}
}

/*
 * Once the provider has said the device is going away, no signal ends an
 * unplug: nothing could retry it later.
 */
static void dax_kmem_signals_after_loss(struct kunit *test)
{
	u64 r[1][2] = { { MB_(8), MB_(3) } };
	struct kmem_dev *kdev = kmem_test_kdev(test, 1, r);

	KUNIT_EXPECT_EQ(test, kmem_signals(kdev, MHP_OFFLINE_SIGNAL_FATAL),
			MHP_OFFLINE_SIGNAL_FATAL);
	KUNIT_EXPECT_EQ(test, kmem_signals(kdev, MHP_OFFLINE_SIGNAL_NONE),
			MHP_OFFLINE_SIGNAL_NONE);
	kdev->loss = KMEM_LOSS_TEARDOWN;
	KUNIT_EXPECT_EQ(test, kmem_signals(kdev, MHP_OFFLINE_SIGNAL_FATAL),
			MHP_OFFLINE_SIGNAL_NONE);
	kdev->loss = KMEM_LOSS_GONE;
	KUNIT_EXPECT_EQ(test, kmem_signals(kdev, MHP_OFFLINE_SIGNAL_FATAL),
			MHP_OFFLINE_SIGNAL_NONE);
}

/*
 * kernel_loss takes "panic" and "keep" and nothing else; panic by default
 * (this case fails on a kmem loaded with kernel_loss=keep).
 */
static void dax_kmem_kernel_loss_param(struct kunit *test)
{
	int v = -1;
	const struct kernel_param kp = { .arg = &v };

	KUNIT_EXPECT_EQ(test, READ_ONCE(kernel_loss), KMEM_KLOSS_PANIC);
	KUNIT_EXPECT_EQ(test, kmem_kernel_loss_set("keep\n", &kp), 0);
	KUNIT_EXPECT_EQ(test, v, KMEM_KLOSS_KEEP);
	KUNIT_EXPECT_EQ(test, kmem_kernel_loss_set("panic", &kp), 0);
	KUNIT_EXPECT_EQ(test, v, KMEM_KLOSS_PANIC);
	KUNIT_EXPECT_EQ(test, kmem_kernel_loss_set("kept", &kp), -EINVAL);
	KUNIT_EXPECT_EQ(test, kmem_kernel_loss_set("", &kp), -EINVAL);
	KUNIT_EXPECT_EQ(test, v, KMEM_KLOSS_PANIC);
}

/* A pfn is shown in hexadecimal, or as "unknown", never as a number. */
static void dax_kmem_pfn_shown(struct kunit *test)
{
	struct kmem_pfn_str buf;

	KUNIT_EXPECT_STREQ(test, kmem_pfn(0x190000, &buf), "0x190000");
	KUNIT_EXPECT_STREQ(test, kmem_pfn(MHP_PFN_UNKNOWN, &buf), "unknown");
	/* 0 is a pfn like any other */
	KUNIT_EXPECT_STREQ(test, kmem_pfn(0, &buf), "0x0");
}

/*
 * A deadline is @ms after its start, and never 0, which would mean "no
 * bound" to core mm: a sum that wraps to 0 becomes 1.
 */
static void dax_kmem_deadline_never_zero(struct kunit *test)
{
	unsigned long five = msecs_to_jiffies(5);

	KUNIT_EXPECT_EQ(test, kmem_deadline_at(1000, 5), 1000 + five);
	KUNIT_EXPECT_EQ(test, kmem_deadline_at(0UL - five, 5), 1UL);
	KUNIT_EXPECT_EQ(test, kmem_deadline_at(0UL - five - 1, 5), 0UL - 1);
}

/*
 * A teardown is not taken back, a failure of the whole backing outranks
 * it, and a failure of a part of it is no news of the device.
 */
static void dax_kmem_loss_merge(struct kunit *test)
{
	static const struct {
		enum kmem_loss had;
		int mf_flags;
		bool whole;
		enum kmem_loss now;
	} cases[] = {
		{ KMEM_LOSS_NONE, MF_MEM_PRE_REMOVE, true, KMEM_LOSS_TEARDOWN },
		{ KMEM_LOSS_NONE, 0, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_NONE, MF_ACTION_REQUIRED, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_NONE, MF_SW_SIMULATED, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_NONE, 0, false, KMEM_LOSS_NONE },
		{ KMEM_LOSS_NONE, MF_ACTION_REQUIRED, false, KMEM_LOSS_NONE },
		{ KMEM_LOSS_TEARDOWN, MF_MEM_PRE_REMOVE, true, KMEM_LOSS_TEARDOWN },
		{ KMEM_LOSS_TEARDOWN, 0, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_TEARDOWN, 0, false, KMEM_LOSS_TEARDOWN },
		{ KMEM_LOSS_GONE, MF_MEM_PRE_REMOVE, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_GONE, 0, true, KMEM_LOSS_GONE },
		{ KMEM_LOSS_GONE, 0, false, KMEM_LOSS_GONE },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		KUNIT_EXPECT_EQ_MSG(test, kmem_loss_merge(cases[i].had, cases[i].mf_flags,
							  cases[i].whole),
				    cases[i].now, "case %u", i);
}

/* kill_dax() again is harmless, and put_dax() wants the device dead */
static void kmem_test_kill_put_dax(void *dax_dev)
{
	kill_dax(dax_dev);
	put_dax(dax_dev);
}

/*
 * A dax_device, alive as a file system finds a pmem one, or killed as a
 * device-dax instance bound to kmem has it (bus.c kills it at creation,
 * only device_dax runs it).
 */
static struct dax_device *kmem_test_dax(struct kunit *test, bool alive)
{
	struct dax_device *dax_dev = alloc_dax(NULL, NULL);

	KUNIT_ASSERT_FALSE(test, IS_ERR(dax_dev));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kmem_test_kill_put_dax, dax_dev),
			0);
	if (!alive)
		kill_dax(dax_dev);
	return dax_dev;
}

static struct kmem_dev *kmem_test_holder(struct kunit *test)
{
	struct kmem_dev *kdev = kunit_kzalloc(test, sizeof(*kdev), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, kdev);
	spin_lock_init(&kdev->stat_lock);
	kdev->name = "kunit-dax";
	kdev->dev_size = SZ_128M;
	return kdev;
}

/*
 * A device bound to kmem is not alive: its holder hears of the teardown,
 * which kill_dax() tells it before dropping it, and of nothing after it;
 * a second holder is refused meanwhile.
 */
static void dax_kmem_holder_dead(struct kunit *test)
{
	struct dax_device *dax_dev = kmem_test_dax(test, false);
	struct kmem_dev *kdev = kmem_test_holder(test);
	struct kmem_dev *other = kmem_test_holder(test);

	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, kdev, &kmem_holder_ops), 0);
	KUNIT_EXPECT_EQ(test, dax_holder_register(dax_dev, other, &kmem_holder_ops), -EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, dax_holder(dax_dev), (void *)kdev);
	/* another holder's unregister leaves this one */
	dax_holder_unregister(dax_dev, other);
	KUNIT_EXPECT_PTR_EQ(test, dax_holder(dax_dev), (void *)kdev);

	kill_dax(dax_dev);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_TEARDOWN);
	KUNIT_EXPECT_NULL(test, dax_holder(dax_dev));
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, U64_MAX, 0), -ENXIO);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_TEARDOWN);
	/* the holder's own unregister after that is harmless */
	dax_holder_unregister(dax_dev, kdev);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(other), KMEM_LOSS_NONE);
}

/*
 * A failure of the memory of a device that is not alive reaches the
 * holder kmem registered, and a failure outranks the teardown that
 * follows; once the holder unregisters, the device is told nothing.
 */
static void dax_kmem_holder_dead_failure(struct kunit *test)
{
	struct dax_device *dax_dev = kmem_test_dax(test, false);
	struct kmem_dev *kdev = kmem_test_holder(test);

	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, kdev, &kmem_holder_ops), 0);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, U64_MAX, MF_SW_SIMULATED),
			-EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_GONE);
	dax_holder_unregister(dax_dev, kdev);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, U64_MAX, 0), -ENXIO);

	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, kdev, &kmem_holder_ops), 0);
	kill_dax(dax_dev);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_GONE);
	dax_holder_unregister(dax_dev, kdev);
}

/* A holder that counts its calls and checks it finds itself. */
static struct {
	unsigned int calls;
	int last_flags;
	bool found_self;
} kmem_test_told;

static int kmem_test_notify(struct dax_device *dax_dev, u64 off, u64 len, int mf_flags)
{
	kmem_test_told.calls++;
	kmem_test_told.last_flags = mf_flags;
	kmem_test_told.found_self = dax_holder(dax_dev) == &kmem_test_told;
	return -EIO;
}

static const struct dax_holder_operations kmem_test_holder_ops = {
	.notify_failure = kmem_test_notify,
};

/*
 * On a device that is alive (a file system's), a registered holder is
 * told of failures and finds its own data; once it unregisters it is not
 * called again and the device takes another holder; kill_dax() tells the
 * last one of the teardown.
 */
static void dax_kmem_holder_alive(struct kunit *test)
{
	struct dax_device *dax_dev = kmem_test_dax(test, true);
	struct kmem_dev *kdev = kmem_test_holder(test);

	memset(&kmem_test_told, 0, sizeof(kmem_test_told));
	KUNIT_EXPECT_EQ(test, dax_holder_register(dax_dev, kdev, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, 4096, 0), -EOPNOTSUPP);
	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, &kmem_test_told,
						  &kmem_test_holder_ops), 0);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, 4096, MF_ACTION_REQUIRED),
			-EIO);
	KUNIT_EXPECT_EQ(test, kmem_test_told.calls, 1U);
	KUNIT_EXPECT_EQ(test, kmem_test_told.last_flags, MF_ACTION_REQUIRED);
	KUNIT_EXPECT_TRUE(test, kmem_test_told.found_self);

	dax_holder_unregister(dax_dev, &kmem_test_told);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, 4096, 0), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, kmem_test_told.calls, 1U);

	/*
	 * kmem's ops on it: a failure of a part is no news of the device, one
	 * of all of it is recorded (and acted on at the next unplug); both
	 * leave the pages to the caller
	 */
	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, kdev, &kmem_holder_ops), 0);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, 4096, 0), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_NONE);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, SZ_4K, SZ_128M, 0), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_NONE);
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, SZ_128M, 0), -EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, kmem_loss_read(kdev), KMEM_LOSS_GONE);
	dax_holder_unregister(dax_dev, kdev);

	KUNIT_ASSERT_EQ(test, dax_holder_register(dax_dev, &kmem_test_told,
						  &kmem_test_holder_ops), 0);
	kill_dax(dax_dev);
	KUNIT_EXPECT_EQ(test, kmem_test_told.calls, 2U);
	KUNIT_EXPECT_EQ(test, kmem_test_told.last_flags, MF_MEM_PRE_REMOVE);
	KUNIT_EXPECT_NULL(test, dax_holder(dax_dev));
	KUNIT_EXPECT_EQ(test, dax_holder_notify_failure(dax_dev, 0, 4096, 0), -ENXIO);
	KUNIT_EXPECT_EQ(test, kmem_test_told.calls, 2U);
}

KUNIT_DEFINE_ACTION_WRAPPER(kmem_test_release_resource, release_resource,
			    struct resource *);

/* A free window of @size bytes high in the physical address space. */
static struct resource *kmem_test_window(struct kunit *test, u64 size)
{
	struct resource *win;

	win = kunit_kzalloc(test, sizeof(*win), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, win);
	win->name = "dax_kmem kunit";
	win->flags = IORESOURCE_MEM;
	/* the upper half of the physical address space: no RAM there */
	KUNIT_ASSERT_EQ(test, allocate_resource(&iomem_resource, win, size,
						iomem_resource.end / 2 + 1,
						iomem_resource.end,
						kmem_block_size, NULL, NULL), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, kmem_test_release_resource,
							win), 0);
	return win;
}

/* Add up the bytes of each System RAM resource walked. */
static int kmem_test_count_ram(struct resource *res, void *arg)
{
	*(u64 *)arg += resource_size(res);
	return 0;
}

/*
 * The device's placeholder resource is not System RAM: an unplugged device
 * (or the removed blocks of a retained one) is not reported as RAM by
 * region_intersects() or the System RAM walks (walk_iomem_res_desc(), the
 * lookup walk_system_ram_range() uses too); the blocks added below it
 * (bound or retained alike) are.
 */
static void dax_kmem_placeholder_not_ram(struct kunit *test)
{
	const unsigned long ram = IORESOURCE_SYSTEM_RAM;
	struct resource *win, block = {};
	u64 r[1][2] = { { 0, 0 } };
	u64 bytes = 0;
	struct kmem_dev *kdev;
	u64 start;

	win = kmem_test_window(test, MB_(4));
	start = win->start + kmem_block_size;
	r[0][0] = start;
	r[0][1] = MB_(2);
	kdev = kmem_test_kdev(test, 1, r);
	kdev->name = "dax-kunit.0";
	KUNIT_ASSERT_EQ(test, kmem_request_ranges(kdev), 0);

	/* unplugged */
	KUNIT_EXPECT_EQ(test, region_intersects(start, MB_(2), ram, IORES_DESC_NONE),
			REGION_DISJOINT);
	walk_iomem_res_desc(IORES_DESC_NONE, ram, start, start + MB_(2) - 1,
			    &bytes, kmem_test_count_ram);
	KUNIT_EXPECT_EQ(test, bytes, 0ULL);

	/*
	 * One block present, as after a bind or for a retained device. The
	 * block lives on this stack while it is in the iomem tree: no ASSERT
	 * may end the test before it is released below.
	 */
	block.name = "System RAM (kmem)";
	block.start = start;
	block.end = start + kmem_block_size - 1;
	block.flags = IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY |
		      IORESOURCE_SYSRAM_DRIVER_MANAGED;
	KUNIT_ASSERT_EQ(test, request_resource(kdev->ranges[0].res, &block), 0);
	KUNIT_EXPECT_EQ(test, region_intersects(start, kmem_block_size, ram,
						IORES_DESC_NONE), REGION_INTERSECTS);
	KUNIT_EXPECT_EQ(test, region_intersects(start + kmem_block_size,
						kmem_block_size, ram, IORES_DESC_NONE),
			REGION_DISJOINT);
	KUNIT_EXPECT_EQ(test, region_intersects(start, MB_(2), ram, IORES_DESC_NONE),
			REGION_MIXED);
	walk_iomem_res_desc(IORES_DESC_NONE, ram, start, start + MB_(2) - 1,
			    &bytes, kmem_test_count_ram);
	KUNIT_EXPECT_EQ(test, bytes, kmem_block_size);

	release_resource(&block);
	remove_resource(kdev->ranges[0].res);
	kfree(kdev->ranges[0].res);
	kdev->ranges[0].res = NULL;
}

static struct kunit_case dax_kmem_test_cases[] = {
	KUNIT_CASE_PARAM(dax_kmem_ranges_clipped, kmem_whole_gen_params),
	KUNIT_CASE(dax_kmem_ranges_none_left),
	KUNIT_CASE(dax_kmem_ranges_subblock),
	KUNIT_CASE(dax_kmem_ranges_share_block),
	KUNIT_CASE(dax_kmem_trim_shared),
	KUNIT_CASE(dax_kmem_memmap_slices),
	KUNIT_CASE(dax_kmem_block_addr_round_trip),
	KUNIT_CASE(dax_kmem_same_and_overlapping_ranges),
	KUNIT_CASE_PARAM(dax_kmem_state_of_counts, kmem_state_gen_params),
	KUNIT_CASE(dax_kmem_set_bstate_keeps_counts),
	KUNIT_CASE(dax_kmem_policy_state),
	KUNIT_CASE(dax_kmem_mmop_of_states),
	KUNIT_CASE(dax_kmem_ranges_emitted),
	KUNIT_CASE(dax_kmem_adopt_node),
	KUNIT_CASE(dax_kmem_veto),
	KUNIT_CASE(dax_kmem_veto_after_loss),
	KUNIT_CASE(dax_kmem_veto_surprise),
	KUNIT_CASE(dax_kmem_bind_want_surprise),
	KUNIT_CASE(dax_kmem_kernel_lost),
	KUNIT_CASE(dax_kmem_kernel_loss_param),
	KUNIT_CASE(dax_kmem_signals_after_loss),
	KUNIT_CASE(dax_kmem_pfn_shown),
	KUNIT_CASE(dax_kmem_deadline_never_zero),
	KUNIT_CASE(dax_kmem_loss_merge),
	KUNIT_CASE(dax_kmem_holder_dead),
	KUNIT_CASE(dax_kmem_holder_dead_failure),
	KUNIT_CASE(dax_kmem_holder_alive),
	KUNIT_CASE(dax_kmem_placeholder_not_ram),
	{}
};

static struct kunit_suite dax_kmem_test_suite = {
	.name = "dax_kmem",
	.test_cases = dax_kmem_test_cases,
};

kunit_test_suite(dax_kmem_test_suite);
