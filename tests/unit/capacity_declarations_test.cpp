#include "core/capacity_declarations.h"

#include <gtest/gtest.h>

namespace lmcache::core {
namespace {

using Outcome = CapacityDeclarations::Outcome;

TEST(CapacityDeclarationsTest, FirstDeclarationIsRecorded) {
  CapacityDeclarations declarations;
  EXPECT_EQ(declarations.declare("mp-a", 1, 0, CacheTier::kL2, "fs", 100), Outcome::kReplaced);
  const auto found = declarations.find("mp-a");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->incarnation, 1u);
  EXPECT_EQ(found->revision, 0u);
  EXPECT_EQ(found->compartments, (std::vector<CapacityCompartment>{{CacheTier::kL2, "fs", 100}}));
}

TEST(CapacityDeclarationsTest, EqualStampAddsOrOverwritesOneCompartment) {
  CapacityDeclarations declarations;
  declarations.declare("mp-a", 1, 2, CacheTier::kL2, "fs", 100);
  EXPECT_EQ(declarations.declare("mp-a", 1, 2, CacheTier::kL1, "cpu", 10), Outcome::kUpdated);
  EXPECT_EQ(declarations.declare("mp-a", 1, 2, CacheTier::kL2, "fs", 300), Outcome::kUpdated);
  EXPECT_EQ(
      declarations.find("mp-a")->compartments,
      (std::vector<CapacityCompartment>{{CacheTier::kL2, "fs", 300}, {CacheTier::kL1, "cpu", 10}}));
}

TEST(CapacityDeclarationsTest, NewerStampReplacesTheWholeDeclaration) {
  CapacityDeclarations declarations;
  declarations.declare("mp-a", 1, 2, CacheTier::kL2, "fs", 100);
  declarations.declare("mp-a", 1, 2, CacheTier::kL1, "cpu", 10);
  // A newer revision of the same incarnation.
  EXPECT_EQ(declarations.declare("mp-a", 1, 3, CacheTier::kL1, "cpu", 20), Outcome::kReplaced);
  EXPECT_EQ(declarations.find("mp-a")->compartments,
            (std::vector<CapacityCompartment>{{CacheTier::kL1, "cpu", 20}}));
  // A newer incarnation wins even with a lower revision.
  EXPECT_EQ(declarations.declare("mp-a", 2, 0, CacheTier::kL2, "s3", 5), Outcome::kReplaced);
  EXPECT_EQ(declarations.find("mp-a")->incarnation, 2u);
  EXPECT_EQ(declarations.find("mp-a")->revision, 0u);
  EXPECT_EQ(declarations.find("mp-a")->compartments,
            (std::vector<CapacityCompartment>{{CacheTier::kL2, "s3", 5}}));
}

TEST(CapacityDeclarationsTest, OlderStampIsIgnored) {
  CapacityDeclarations declarations;
  declarations.declare("mp-a", 2, 1, CacheTier::kL2, "fs", 100);
  EXPECT_EQ(declarations.declare("mp-a", 2, 0, CacheTier::kL2, "fs", 1), Outcome::kIgnored);
  EXPECT_EQ(declarations.declare("mp-a", 1, 9, CacheTier::kL2, "fs", 1), Outcome::kIgnored);
  EXPECT_EQ(declarations.find("mp-a")->compartments,
            (std::vector<CapacityCompartment>{{CacheTier::kL2, "fs", 100}}));
}

TEST(CapacityDeclarationsTest, ForgetDropsTheDeclaration) {
  CapacityDeclarations declarations;
  declarations.declare("mp-a", 2, 1, CacheTier::kL2, "fs", 100);
  declarations.declare("mp-b", 1, 1, CacheTier::kL2, "fs", 100);
  EXPECT_TRUE(declarations.forget("mp-a"));
  EXPECT_FALSE(declarations.forget("mp-a"));
  EXPECT_FALSE(declarations.find("mp-a").has_value());
  EXPECT_EQ(declarations.all().size(), 1u);
  // Forgotten: any stamp starts again.
  EXPECT_EQ(declarations.declare("mp-a", 1, 0, CacheTier::kL2, "fs", 7), Outcome::kReplaced);
}

}  // namespace
}  // namespace lmcache::core
