// The long-document loader: coverage and order, resets at document starts, exact resume, ranks.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/errors.h"
#include "data/loader.h"
#include "data/prepare.h"
#include "test_support.h"

using namespace infini;

namespace {

// 23 documents from 3 to ~400 tokens: shorter and longer than the 16-token sequences below.
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "corpus");
    for (int i = 0; i < 23; ++i) {
      test::write_text(dir_ / ("corpus/" + std::to_string(100 + i) + ".txt"),
                       i % 4 == 0 ? std::string("x") : test::generated_text((i * 29) % 300 + 1, i));
    }
    PrepareOptions o;
    o.tokenizer = test::shared_tokenizer();
    o.input = dir_ / "corpus";
    o.out = dir_ / "shards";
    prepare_shards(o);
    shards_ = std::make_unique<TokenShards>(dir_ / "shards");
  }

  // Runs a non-repeating loader to the end and rebuilds each served document from the rows.
  std::vector<std::vector<int64_t>> served(LoaderOptions options) {
    options.repeat = false;
    DocumentLoader loader(*shards_, options);
    std::vector<std::vector<int64_t>> rows(options.batch_size), documents;
    for (int step = 0; step < 10000; ++step) {
      auto batch = loader.next();
      if (batch.end_of_data) break;
      int64_t counted = 0;
      for (int64_t r = 0; r < options.batch_size; ++r) {
        for (int64_t p = 0; p < options.sequence_length; ++p) {
          const int64_t target = batch.targets[r][p].item<int64_t>();
          if (target == kIgnoreTarget) continue;
          ++counted;
          if (batch.starts[r][p].item<bool>()) {
            if (!rows[r].empty()) documents.push_back(rows[r]);
            rows[r] = {batch.inputs[r][p].item<int64_t>()};
          } else {
            EXPECT_FALSE(rows[r].empty()) << "a row continued a document it never started";
            EXPECT_EQ(rows[r].back(), batch.inputs[r][p].item<int64_t>()) << "input is the previous target";
          }
          rows[r].push_back(target);
        }
      }
      EXPECT_EQ(batch.tokens, counted);
    }
    for (auto& row : rows) {
      if (!row.empty()) documents.push_back(row);
    }
    return documents;
  }

  std::map<std::vector<int64_t>, int> all_documents(const std::vector<int64_t>& ids) const {
    std::map<std::vector<int64_t>, int> counts;
    for (auto id : ids) counts[shards_->document(static_cast<size_t>(id))] += 1;
    return counts;
  }

  test::TempDir dir_;
  std::unique_ptr<TokenShards> shards_;
};

std::vector<int64_t> iota(size_t n) {
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  return ids;
}

}  // namespace

TEST_F(LoaderTest, EveryTokenOfEveryDocumentOnceAndInOrder) {
  LoaderOptions options;
  options.batch_size = 3;
  options.sequence_length = 16;
  options.seed = 5;
  std::map<std::vector<int64_t>, int> seen;
  for (const auto& document : served(options)) seen[document] += 1;
  EXPECT_EQ(seen, all_documents(iota(shards_->documents())));
}

TEST_F(LoaderTest, RanksGetDisjointCompleteShares) {
  std::map<std::vector<int64_t>, int> seen;
  std::vector<int64_t> union_ids;
  for (int64_t rank = 0; rank < 3; ++rank) {
    LoaderOptions options;
    options.batch_size = 2;
    options.sequence_length = 16;
    options.rank = rank;
    options.world_size = 3;
    DocumentLoader loader(*shards_, options);
    auto mine = loader.epoch_documents(0);
    union_ids.insert(union_ids.end(), mine.begin(), mine.end());
    std::map<std::vector<int64_t>, int> rank_seen;
    for (const auto& document : served(options)) rank_seen[document] += 1;
    EXPECT_EQ(rank_seen, all_documents(mine)) << "rank " << rank << " serves exactly its share";
    for (const auto& [document, count] : rank_seen) seen[document] += count;
  }
  std::sort(union_ids.begin(), union_ids.end());
  EXPECT_EQ(union_ids, iota(shards_->documents()));
  EXPECT_EQ(seen, all_documents(iota(shards_->documents())));
}

TEST_F(LoaderTest, RestoredStateReproducesTheFollowingBatchesBitForBit) {
  LoaderOptions options;
  options.batch_size = 4;
  options.sequence_length = 64;
  options.seed = 11;
  DocumentLoader first(*shards_, options);
  for (int i = 0; i < 30; ++i) first.next();  // into the second epoch
  const std::string saved = first.state().to_json().dump();
  std::vector<LoaderBatch> expected;
  for (int i = 0; i < 25; ++i) expected.push_back(first.next());
  EXPECT_GE(first.state().epoch, 1);

  DocumentLoader second(*shards_, options);
  second.restore(LoaderState::from_json(nlohmann::json::parse(saved), "saved"));
  for (const auto& want : expected) {
    auto got = second.next();
    EXPECT_TRUE(torch::equal(got.inputs, want.inputs));
    EXPECT_TRUE(torch::equal(got.targets, want.targets));
    EXPECT_TRUE(torch::equal(got.starts, want.starts));
  }
  EXPECT_EQ(second.state(), first.state());
}

TEST_F(LoaderTest, OrderIsShuffledPerEpochFromTheSeed) {
  LoaderOptions options;
  options.seed = 1;
  DocumentLoader a(*shards_, options), b(*shards_, options);
  EXPECT_EQ(a.epoch_documents(0), b.epoch_documents(0));
  EXPECT_NE(a.epoch_documents(0), a.epoch_documents(1));
  options.seed = 2;
  EXPECT_NE(DocumentLoader(*shards_, options).epoch_documents(0), a.epoch_documents(0));
  options.shuffle = false;
  EXPECT_EQ(DocumentLoader(*shards_, options).epoch_documents(0), iota(shards_->documents()));
}

TEST_F(LoaderTest, LongDocumentsContinueInTheSameRowAcrossSteps) {
  LoaderOptions options;
  options.batch_size = 1;
  options.sequence_length = 8;
  options.shuffle = false;
  DocumentLoader loader(*shards_, options);
  // Document 1 is long: after document 0 ("x": bos, x, eos = 2 pairs) it fills the rest of
  // step 0 and all of step 1 without a new start.
  auto step0 = loader.next();
  auto step1 = loader.next();
  EXPECT_TRUE(step0.starts[0][0].item<bool>());
  EXPECT_TRUE(step0.starts[0][shards_->entry(0).tokens - 1].item<bool>());
  EXPECT_EQ(step1.starts.sum().item<int64_t>(), 0);
  auto document = shards_->document(1);
  const int64_t in_step0 = 8 - static_cast<int64_t>(shards_->entry(0).tokens - 1);
  EXPECT_EQ(step1.inputs[0][0].item<int64_t>(), document[in_step0]);
}

TEST_F(LoaderTest, AlignedDocumentsStartOnlyAtSegmentBoundariesAndLoseNoToken) {
  LoaderOptions options;
  options.batch_size = 3;
  options.sequence_length = 16;
  options.align = 4;
  options.shuffle = false;
  DocumentLoader loader(*shards_, options);
  int64_t starts = 0, padding_inside = 0;
  for (int step = 0; step < 200; ++step) {
    auto batch = loader.next();
    auto positions = batch.starts.nonzero();
    for (int64_t i = 0; i < positions.size(0); ++i) {
      EXPECT_EQ(positions[i][1].item<int64_t>() % 4, 0) << "a document starts inside a segment";
      ++starts;
    }
    // Padding only ever fills the end of a segment, right before an aligned start (or the end).
    padding_inside += (batch.targets == kIgnoreTarget).sum().item<int64_t>();
  }
  EXPECT_GT(starts, 20);
  EXPECT_GT(padding_inside, 0);  // documents do end mid-segment here, so alignment pads

  std::map<std::vector<int64_t>, int> seen;
  for (const auto& document : served(options)) seen[document] += 1;
  EXPECT_EQ(seen, all_documents(iota(shards_->documents())));
}

TEST_F(LoaderTest, AlignmentMustDivideTheSequence) {
  LoaderOptions options;
  options.sequence_length = 16;
  options.align = 5;
  EXPECT_THROW(DocumentLoader(*shards_, options), InputError);
}
