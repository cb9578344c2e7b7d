// Token shards: round trips in both widths, the index, and what prepare refuses or skips.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.h"
#include "core/files.h"
#include "data/documents.h"
#include "data/prepare.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"
#include "test_support.h"

using namespace infini;
namespace fs = std::filesystem;

namespace {

void write_corpus(const std::string& dir, int documents) {
  fs::create_directories(dir);
  for (int i = 0; i < documents; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/doc-%03d.txt", i);
    test::write_text(dir + name, test::generated_text(20 + 37 * i, i));
  }
}

PrepareOptions options_for(const test::TempDir& dir, const std::string& out) {
  PrepareOptions o;
  o.tokenizer = test::shared_tokenizer();
  o.input = dir / "corpus";
  o.out = dir / out;
  o.threads = 2;
  return o;
}

}  // namespace

TEST(Shards, RoundTripInBothWidthsWithIndex) {
  test::TempDir dir;
  write_corpus(dir / "corpus", 9);
  Tokenizer tokenizer(test::shared_tokenizer());
  DocumentSource source(dir / "corpus");
  for (std::string dtype : {"uint16", "uint32"}) {
    auto o = options_for(dir, dtype);
    o.token_dtype = dtype;
    o.shard_tokens = 300;  // several shard files
    auto report = prepare_shards(o);
    EXPECT_FALSE(report.up_to_date);
    TokenShards shards(o.out, file_fingerprint(o.tokenizer));
    EXPECT_EQ(shards.manifest()["dtype"], dtype);
    EXPECT_GT(shards.manifest()["shards"].size(), 1u);
    ASSERT_EQ(shards.documents(), source.size());
    int64_t tokens = 0;
    for (size_t i = 0; i < source.size(); ++i) {
      auto document = source.load(i);
      EXPECT_EQ(shards.name(i), document.name);
      EXPECT_EQ(shards.document(i), tokenizer.document_tokens(document.text)) << document.name;
      EXPECT_EQ(shards.entry(i).bytes, document.text.size());
      tokens += static_cast<int64_t>(shards.entry(i).tokens);
    }
    EXPECT_EQ(report.tokens, tokens);
    EXPECT_EQ(shards.manifest()["tokens"].get<int64_t>(), tokens);
    std::vector<int64_t> middle(5);
    shards.read(3, 2, 5, middle.data());
    auto whole = shards.document(3);
    EXPECT_EQ(middle, std::vector<int64_t>(whole.begin() + 2, whole.begin() + 7));
  }
}

TEST(Shards, RerunIsANoOpAndOtherShardsAreNotOverwritten) {
  test::TempDir dir;
  write_corpus(dir / "corpus", 3);
  auto o = options_for(dir, "shards");
  prepare_shards(o);
  auto before = fs::last_write_time(dir / "shards/manifest.json");
  EXPECT_TRUE(prepare_shards(o).up_to_date);
  EXPECT_EQ(fs::last_write_time(dir / "shards/manifest.json"), before);
  // Changed inputs: refused without --force, rebuilt with it.
  test::write_text(dir / "corpus/doc-999.txt", "a new book");
  EXPECT_THROW(prepare_shards(o), InputError);
  EXPECT_EQ(TokenShards(dir / "shards").documents(), 3u);
  o.force = true;
  prepare_shards(o);
  EXPECT_EQ(TokenShards(dir / "shards").documents(), 4u);
}

TEST(Shards, AnotherTokenizersShardsAreRejected) {
  test::TempDir dir;
  write_corpus(dir / "corpus", 2);
  auto o = options_for(dir, "shards");
  prepare_shards(o);
  test::write_text(dir / "text.txt", test::generated_text(3000, 9));
  TokenizerTrainOptions t;
  t.inputs = {dir / "text.txt"};
  t.output = dir / "other.model";
  t.vocab_size = 320;
  t.threads = 1;
  train_tokenizer(t);
  try {
    TokenShards shards(dir / "shards", file_fingerprint(dir / "other.model"));
    FAIL() << "accepted shards of another tokenizer";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("another tokenizer"), std::string::npos) << e.what();
  }
}

TEST(Shards, EmptyDocumentKeptInvalidUtf8SkippedByName) {
  test::TempDir dir;
  fs::create_directories(dir / "corpus");
  test::write_text(dir / "corpus/a.txt", "fine text");
  test::write_text(dir / "corpus/b.txt", "");
  test::write_text(dir / "corpus/c.txt", std::string("bad \xff\xfe bytes"));
  auto report = prepare_shards(options_for(dir, "shards"));
  EXPECT_EQ(report.documents, 2);
  EXPECT_EQ(report.skipped, 1);
  TokenShards shards(dir / "shards");
  ASSERT_EQ(shards.documents(), 2u);
  EXPECT_EQ(shards.name(1), "b.txt");
  EXPECT_EQ(shards.document(1), (std::vector<int64_t>{1, 2}));  // [bos, eos]
  EXPECT_EQ(shards.manifest()["skipped"][0]["name"], "c.txt");
  EXPECT_EQ(shards.manifest()["skipped"][0]["invalid_utf8_at"], 4);
}

TEST(Shards, CorpusWithEveryDocumentSkippedIsAnErrorAndWritesNothing) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "corpus");
  test::write_text(dir / "corpus/only.txt", std::string("\xff"));
  try {
    prepare_shards(options_for(dir, "shards"));
    FAIL() << "a corpus with nothing left was prepared";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no document left"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "shards"));
}

TEST(Shards, Utf8Validation) {
  EXPECT_EQ(first_invalid_utf8("plain ascii"), -1);
  EXPECT_EQ(first_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), -1);
  EXPECT_EQ(first_invalid_utf8("ab\xc3"), 2);              // truncated sequence
  EXPECT_EQ(first_invalid_utf8("ab\xc0\xafz"), 2);         // overlong
  EXPECT_EQ(first_invalid_utf8("\xed\xa0\x80"), 0);        // surrogate
  EXPECT_EQ(first_invalid_utf8("x\xf4\x90\x80\x80"), 1);   // past U+10FFFF
}

TEST(Shards, TruncatedShardIsRejected) {
  test::TempDir dir;
  write_corpus(dir / "corpus", 3);
  prepare_shards(options_for(dir, "shards"));
  fs::resize_file(dir / "shards/tokens-00000.bin", 10);
  EXPECT_THROW(TokenShards(dir / "shards"), InputError);
}
