#include "core/event_gate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lmcache::core {
namespace {

using Verdict = EventGate::Verdict;

class EventGateTest : public ::testing::Test {
 protected:
  // Offers a batch and records whether its consumer ran.
  EventGate::Decision offer(std::string_view id, uint64_t incarnation, uint64_t seq) {
    consumed_ = false;
    return gate_.admit(id, incarnation, seq, [this] { consumed_ = true; });
  }

  std::vector<std::string> fenced_;
  EventGate gate_{[this](std::string_view id) { fenced_.emplace_back(id); }};
  bool consumed_ = false;
};

TEST_F(EventGateTest, FirstBatchOfAnUnknownInstanceIsAdmittedWithoutAFence) {
  const auto decision = offer("mp-a", 7, 1);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(consumed_);
  EXPECT_FALSE(decision.fenced);
  EXPECT_FALSE(decision.gap);
  EXPECT_TRUE(fenced_.empty());
  const auto cursor = gate_.cursor("mp-a");
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->incarnation, 7u);
  EXPECT_EQ(cursor->last_seq, 1u);
  EXPECT_FALSE(cursor->gap_detected);
}

TEST_F(EventGateTest, ConsecutiveBatchesAreAdmittedInOrder) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    EXPECT_EQ(offer("mp-a", 1, seq).verdict, Verdict::kAdmitted) << seq;
    EXPECT_TRUE(consumed_);
  }
  EXPECT_EQ(gate_.cursor("mp-a")->last_seq, 5u);
  EXPECT_EQ(gate_.counters().admitted, 5u);
  EXPECT_EQ(gate_.counters().gaps, 0u);
}

TEST_F(EventGateTest, OlderIncarnationIsStaleAndLeavesTheCursorAlone) {
  offer("mp-a", 5, 3);
  const auto decision = offer("mp-a", 4, 10);
  EXPECT_EQ(decision.verdict, Verdict::kStale);
  EXPECT_FALSE(consumed_);
  EXPECT_EQ(gate_.cursor("mp-a")->incarnation, 5u);
  EXPECT_EQ(gate_.cursor("mp-a")->last_seq, 3u);
  EXPECT_EQ(gate_.counters().stale, 1u);
  EXPECT_TRUE(fenced_.empty());
}

TEST_F(EventGateTest, NewerIncarnationFencesTheInstanceAndStartsAFreshCursor) {
  offer("mp-a", 1, 1);
  offer("mp-a", 1, 2);
  offer("mp-a", 1, 3);
  const auto decision = offer("mp-a", 2, 1);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(decision.fenced);
  EXPECT_FALSE(decision.gap);
  EXPECT_TRUE(consumed_);
  EXPECT_EQ(fenced_, std::vector<std::string>{"mp-a"});
  EXPECT_EQ(gate_.cursor("mp-a")->incarnation, 2u);
  EXPECT_EQ(gate_.cursor("mp-a")->last_seq, 1u);
  EXPECT_EQ(gate_.counters().fences, 1u);
}

TEST_F(EventGateTest, RestartJudgesTheBatchAgainstTheFreshCursor) {
  offer("mp-a", 1, 1);
  const auto decision = offer("mp-a", 2, 4);  // seq 1..3 of the new incarnation were lost
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(decision.fenced);
  EXPECT_TRUE(decision.gap);
  EXPECT_TRUE(decision.first_gap);
  EXPECT_EQ(decision.last_seq, 0u);
}

TEST_F(EventGateTest, SeqNotAboveTheLastIsADuplicate) {
  offer("mp-a", 1, 1);
  offer("mp-a", 1, 2);
  EXPECT_EQ(offer("mp-a", 1, 2).verdict, Verdict::kDuplicate);
  EXPECT_FALSE(consumed_);
  EXPECT_EQ(offer("mp-a", 1, 1).verdict, Verdict::kDuplicate);
  EXPECT_FALSE(consumed_);
  EXPECT_EQ(gate_.cursor("mp-a")->last_seq, 2u);
  EXPECT_EQ(gate_.counters().duplicates, 2u);
  EXPECT_EQ(gate_.counters().admitted, 2u);
}

TEST_F(EventGateTest, GapIsAdmittedFlaggedAndReportedOncePerCursor) {
  offer("mp-a", 1, 1);
  auto decision = offer("mp-a", 1, 5);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(consumed_);
  EXPECT_TRUE(decision.gap);
  EXPECT_TRUE(decision.first_gap);
  EXPECT_EQ(decision.last_seq, 1u);
  EXPECT_TRUE(gate_.cursor("mp-a")->gap_detected);
  EXPECT_EQ(gate_.cursor("mp-a")->last_seq, 5u);

  decision = offer("mp-a", 1, 9);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(decision.gap);
  EXPECT_FALSE(decision.first_gap);
  EXPECT_EQ(gate_.counters().gaps, 2u);

  // A batch lost before the gap arrives late: it is a duplicate now.
  EXPECT_EQ(offer("mp-a", 1, 3).verdict, Verdict::kDuplicate);
}

TEST_F(EventGateTest, FirstBatchAboveOneOfANewCursorIsAGap) {
  const auto decision = offer("mp-a", 1, 3);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_TRUE(decision.gap);
}

TEST_F(EventGateTest, StaleIsJudgedBeforeDuplicate) {
  offer("mp-a", 3, 5);
  EXPECT_EQ(offer("mp-a", 2, 5).verdict, Verdict::kStale);
  EXPECT_EQ(offer("mp-a", 2, 1).verdict, Verdict::kStale);
}

TEST_F(EventGateTest, InstancesHaveSeparateCursors) {
  offer("mp-a", 1, 1);
  offer("mp-a", 1, 2);
  EXPECT_EQ(offer("mp-b", 1, 1).verdict, Verdict::kAdmitted);
  EXPECT_EQ(offer("mp-b", 1, 2).verdict, Verdict::kAdmitted);
  EXPECT_EQ(gate_.cursor_count(), 2u);
}

TEST_F(EventGateTest, ForgottenCursorStartsFreshAtAnyIncarnation) {
  offer("mp-a", 5, 1);
  offer("mp-a", 5, 2);
  gate_.forget("mp-a");
  EXPECT_FALSE(gate_.cursor("mp-a").has_value());
  EXPECT_EQ(fenced_, std::vector<std::string>{"mp-a"});

  // An older incarnation and a seq already seen are both fine on a fresh cursor.
  const auto decision = offer("mp-a", 4, 1);
  EXPECT_EQ(decision.verdict, Verdict::kAdmitted);
  EXPECT_FALSE(decision.fenced);
  EXPECT_FALSE(decision.gap);
  EXPECT_EQ(gate_.cursor("mp-a")->incarnation, 4u);
}

TEST_F(EventGateTest, ForgettingAnUnknownInstanceFencesNothing) {
  gate_.forget("mp-x");
  EXPECT_TRUE(fenced_.empty());
  EXPECT_EQ(gate_.counters().fences, 0u);
}

TEST_F(EventGateTest, FenceRunsBeforeTheBatchIsConsumed) {
  std::vector<std::string> order;
  EventGate gate([&order](std::string_view) { order.emplace_back("fence"); });
  gate.admit("mp-a", 1, 1, [&order] { order.emplace_back("consume 1"); });
  gate.admit("mp-a", 2, 1, [&order] { order.emplace_back("consume 2"); });
  EXPECT_EQ(order, (std::vector<std::string>{"consume 1", "fence", "consume 2"}));
}

}  // namespace
}  // namespace lmcache::core
