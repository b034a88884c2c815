#include "core/sequence_tracker.h"

#include <gtest/gtest.h>

namespace lmcache::core {
namespace {

using Verdict = SequenceTracker::Verdict;

TEST(SequenceTrackerTest, InOrderBatchesApply) {
  SequenceTracker t;
  EXPECT_EQ(t.check("a", 1), Verdict::kApply);
  EXPECT_EQ(t.check("a", 2), Verdict::kApply);
  EXPECT_EQ(t.check("a", 3), Verdict::kApply);
  EXPECT_EQ(t.last_seq("a"), 3u);
  EXPECT_EQ(t.duplicates(), 0u);
  EXPECT_EQ(t.gaps(), 0u);
}

TEST(SequenceTrackerTest, ReplaysAreDuplicates) {
  SequenceTracker t;
  t.check("a", 1);
  t.check("a", 2);
  EXPECT_EQ(t.check("a", 2), Verdict::kDuplicate);
  EXPECT_EQ(t.check("a", 1), Verdict::kDuplicate);
  EXPECT_EQ(t.duplicates(), 2u);
  EXPECT_EQ(t.last_seq("a"), 2u);
  EXPECT_EQ(t.check("a", 3), Verdict::kApply);
}

TEST(SequenceTrackerTest, GapsApplyAndAreCounted) {
  SequenceTracker t;
  t.check("a", 1);
  EXPECT_EQ(t.check("a", 5), Verdict::kGap);
  EXPECT_EQ(t.gaps(), 1u);
  EXPECT_EQ(t.missed_batches(), 3u);
  EXPECT_EQ(t.last_seq("a"), 5u);
  EXPECT_EQ(t.check("a", 6), Verdict::kApply);
  EXPECT_EQ(t.check("a", 4), Verdict::kDuplicate);  // a late batch after the gap was skipped
}

TEST(SequenceTrackerTest, InstancesAreIndependent) {
  SequenceTracker t;
  t.check("a", 7);
  EXPECT_EQ(t.check("b", 1), Verdict::kApply);
  EXPECT_EQ(t.check("b", 2), Verdict::kApply);
  EXPECT_EQ(t.check("a", 7), Verdict::kDuplicate);
  EXPECT_EQ(t.instances(), 2u);
}

TEST(SequenceTrackerTest, FirstBatchIsNeverAGap) {
  // A coordinator that restarted sees a running server continue at its own seq.
  SequenceTracker t;
  EXPECT_EQ(t.check("a", 42), Verdict::kApply);
  EXPECT_EQ(t.gaps(), 0u);
}

TEST(SequenceTrackerTest, ReRegistrationLetsTheSequenceStartAgain) {
  SequenceTracker t;
  for (uint64_t s = 1; s <= 10; ++s) t.check("a", s);
  EXPECT_EQ(t.check("a", 1), Verdict::kDuplicate);  // without re-registration: a replay
  t.reset("a");
  EXPECT_FALSE(t.last_seq("a"));
  EXPECT_EQ(t.check("a", 1), Verdict::kApply);
  EXPECT_EQ(t.check("a", 2), Verdict::kApply);
  EXPECT_EQ(t.check("a", 2), Verdict::kDuplicate);
  // A server that only re-registered continues with its own numbering.
  t.reset("a");
  EXPECT_EQ(t.check("a", 3), Verdict::kApply);
  t.reset("unknown");  // no-op
  EXPECT_EQ(t.gaps(), 0u);
}

}  // namespace
}  // namespace lmcache::core
