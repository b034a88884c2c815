#include "wire/delete_objects_answer.h"

#include <gtest/gtest.h>

namespace lmcache::wire {
namespace {

TEST(DeleteObjectsAnswerTest, DecodesTheCountsAndTheFlag) {
  const auto result = decode_delete_objects_answer(R"({"deleted":3,"skipped":1,"ok":true})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.answer->deleted, 3u);
  EXPECT_EQ(result.answer->skipped, 1u);
  EXPECT_TRUE(result.answer->ok);
  EXPECT_EQ(result.answer->error, "");
}

TEST(DeleteObjectsAnswerTest, OkFalseCarriesTheError) {
  const auto result =
      decode_delete_objects_answer(R"({"deleted":0,"skipped":0,"ok":false,"error":"boom"})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_FALSE(result.answer->ok);
  EXPECT_EQ(result.answer->error, "boom");
}

TEST(DeleteObjectsAnswerTest, MissingOrNullCountsAreZeroAndUnknownFieldsIgnored) {
  const auto result = decode_delete_objects_answer(R"({"ok":true,"skipped":null,"x":[1],)"
                                                   R"("deleted":"7","error":null})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.answer->deleted, 7u);  // lax: a decimal string
  EXPECT_EQ(result.answer->skipped, 0u);
}

TEST(DeleteObjectsAnswerTest, RejectsWhatIsNotAnAnswer) {
  EXPECT_EQ(decode_delete_objects_answer("nope").error.rfind("malformed answer: not JSON", 0), 0u);
  EXPECT_EQ(decode_delete_objects_answer("[]").error, "malformed answer: not an object");
  EXPECT_EQ(decode_delete_objects_answer(R"({"deleted":1})").error,
            "malformed answer: ok is not a boolean");
  EXPECT_EQ(decode_delete_objects_answer(R"({"ok":"true"})").error,
            "malformed answer: ok is not a boolean");
  EXPECT_EQ(decode_delete_objects_answer(R"({"ok":true,"deleted":-1})").error,
            "malformed answer: deleted is not a non-negative integer");
  EXPECT_EQ(decode_delete_objects_answer(R"({"ok":true,"skipped":0.5})").error,
            "malformed answer: skipped is not a non-negative integer");
  EXPECT_EQ(decode_delete_objects_answer(R"({"ok":false,"error":5})").error,
            "malformed answer: error is neither a string nor null");
  EXPECT_FALSE(decode_delete_objects_answer(R"({"ok":false,"error":5})").ok());
}

}  // namespace
}  // namespace lmcache::wire
