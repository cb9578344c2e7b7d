// Document sources (SPEC section 3) and the tokenizer's document framing.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.h"
#include "data/corpus.h"
#include "data/documents.h"
#include "data/tokenizer.h"
#include "test_support.h"

using namespace infini;

TEST(Documents, TextFileDirectoryAndJsonLines) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "books/train");
  test::write_text(dir / "books/train/b.txt", "second");
  test::write_text(dir / "books/train/a.txt", "first\xc3\xa9");
  test::write_text(dir / "books/notes.md", "ignored");
  DocumentSource books(dir / "books");
  ASSERT_EQ(books.size(), 2u);
  EXPECT_EQ(books.name(0), "train/a.txt");
  EXPECT_EQ(books.load(0).text, "first\xc3\xa9");
  EXPECT_EQ(books.load(1).text, "second");

  DocumentSource one(dir / "books/train/b.txt");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.name(0), "b.txt");
  // A file named explicitly is text whatever its name ends with (/usr/share/common-licenses/GPL-3);
  // a directory keeps its .txt rule (notes.md above is not read).
  DocumentSource named(dir / "books/notes.md");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named.load(0).text, "ignored");

  test::write_text(dir / "d.jsonl", "{\"id\": \"x1\", \"text\": \"alpha\\nbeta\"}\n\n{\"text\": \"gamma\"}\n");
  DocumentSource lines(dir / "d.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines.name(0), "x1");
  EXPECT_EQ(lines.load(0).text, "alpha\nbeta");
  EXPECT_EQ(lines.name(1), "3");  // named by line number
  EXPECT_EQ(lines.load(1).text, "gamma");
}

TEST(Documents, BadInputsNameTheFile) {
  test::TempDir dir;
  test::write_text(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  try {
    DocumentSource source(dir / "bad.jsonl");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "bad.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DocumentSource(dir / "missing.txt"), InputError);
  EXPECT_THROW(DocumentSource("/dev/null"), InputError);  // not a regular file
  std::filesystem::create_directory(dir / "empty");
  EXPECT_THROW(DocumentSource(dir / "empty"), InputError);
}

TEST(Tokenizer, DocumentTokensAreBosTextEos) {
  Tokenizer tokenizer(test::shared_tokenizer());
  EXPECT_EQ(tokenizer.vocab_size(), 300);
  EXPECT_EQ(tokenizer.unk_id(), 0);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  EXPECT_EQ(tokenizer.pad_id(), 3);
  const std::string text = "the memory of a long book\n  is kept ünïcode 42";
  auto body = tokenizer.encode(text);
  auto tokens = tokenizer.document_tokens(text);
  ASSERT_EQ(tokens.size(), body.size() + 2);
  EXPECT_EQ(tokens.front(), 1);
  EXPECT_EQ(tokens.back(), 2);
  EXPECT_EQ(tokenizer.decode(body), text);  // identity normalisation + byte fallback
}

TEST(Tokenizer, ChunkedEncodingOfLongTextsEqualsWholeEncoding) {
  // Long texts are encoded in chunks (bounded memory); the ids must equal one SentencePiece call
  // on the whole text.
  Tokenizer tokenizer(test::shared_tokenizer());
  std::string text;
  for (int i = 0; text.size() < 400 * 1024; ++i) {
    text += test::generated_text(50, i);
    text += (i % 3 == 0) ? "  double  spaces \n\n" : (i % 3 == 1) ? " \xc3\xbc" "n\xc3\xaf" "code\t\xc3\xa5 " : "numbers 12345 ";
  }
  auto chunked = tokenizer.encode(text);
  EXPECT_EQ(chunked, tokenizer.encode_whole(text));
  EXPECT_EQ(tokenizer.decode(chunked), text);
}

TEST(Documents, Utf8CheckInPiecesAgreesWithTheWholeText) {
  // Every way of cutting each text into two pieces, and pieces of 1-5 bytes: the same offset.
  const std::vector<std::string> texts = {
      "plain ascii", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!", "ab\xc3",  "ab\xc0\xafz", "\xed\xa0\x80",
      "x\xf4\x90\x80\x80", "\xe2\x82", "ok \xe2\x82x", "\xf0\x9f\x98", "\xe0\x80\x80", "\xff", ""};
  for (const auto& text : texts) {
    const int64_t whole = first_invalid_utf8(text);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      Utf8Check check;
      check.add(std::string_view(text).substr(0, cut));
      check.add(std::string_view(text).substr(cut));
      EXPECT_EQ(check.finish(), whole) << text << " cut at " << cut;
    }
    for (size_t piece = 1; piece <= 5; ++piece) {
      Utf8Check check;
      for (size_t at = 0; at < text.size(); at += piece) check.add(std::string_view(text).substr(at, piece));
      EXPECT_EQ(check.finish(), whole) << text << " in pieces of " << piece;
    }
  }
  EXPECT_EQ(first_invalid_utf8("ok \xe2\x82x"), 3);
  EXPECT_EQ(first_invalid_utf8("\xf0\x9f\x98"), 0);
}

TEST(Tokenizer, TextReadInPiecesEncodesLikeTheWholeTextAndReadsLittleAhead) {
  Tokenizer tokenizer(test::shared_tokenizer());
  std::string text;
  for (int i = 0; text.size() < 400 * 1024; ++i) text += test::generated_text(50, i) + (i % 2 ? "  two  spaces " : " ");
  // Pieces of uneven sizes, as a file or a pipe might give them.
  size_t position = 0, call = 0;
  TextEncoder encoder(tokenizer, [&](char* buffer, size_t size) {
    const size_t n = std::min({size, text.size() - position, size_t{1000} + (call++ * 7919) % 30000});
    std::copy_n(text.data() + position, n, buffer);
    position += n;
    return n;
  });
  std::vector<int64_t> ids;
  ASSERT_TRUE(encoder.next(ids));
  EXPECT_GT(ids.size(), 0u);
  // The first chunk's ids come out once two chunks (64 KiB each) and a 256-byte window are read.
  EXPECT_LE(position, 2 * 65536 + 256 + 1);
  int chunks = 1;
  while (encoder.next(ids)) ++chunks;
  EXPECT_GE(chunks, 4);
  EXPECT_EQ(position, text.size());
  EXPECT_EQ(ids, tokenizer.encode(text));
  EXPECT_EQ(ids, tokenizer.encode_whole(text));
}

TEST(Corpus, TextDocumentsStreamTheirTokensInPieces) {
  test::TempDir dir;
  Tokenizer tokenizer(test::shared_tokenizer());
  std::string text;
  for (int i = 0; text.size() < 300 * 1024; ++i) text += test::generated_text(40, i) + " ";
  std::filesystem::create_directories(dir / "docs");
  test::write_text(dir / "docs/a.txt", text);
  test::write_text(dir / "docs/b.txt", "");
  test::write_text(dir / "docs/c.txt", "fine until \xc3(");
  const auto corpus = open_corpus(dir / "docs", test::shared_tokenizer());
  ASSERT_EQ(corpus->size(), 3u);
  auto long_one = corpus->open(0);
  EXPECT_EQ(long_one.name, "a.txt");
  EXPECT_EQ(long_one.bytes, static_cast<int64_t>(text.size()));
  ASSERT_TRUE(long_one.tokens);
  std::vector<int64_t> tokens;
  int pieces = 0;
  while (long_one.tokens->next(tokens)) ++pieces;
  EXPECT_GE(pieces, 4);  // bos, at least two chunks of text, eos
  EXPECT_EQ(tokens, tokenizer.document_tokens(text));
  auto empty = corpus->load(1);
  EXPECT_EQ(empty.tokens, (std::vector<int64_t>{tokenizer.bos_id(), tokenizer.eos_id()}));
  auto bad = corpus->open(2);
  EXPECT_EQ(bad.invalid_utf8_at, 11);
  EXPECT_FALSE(bad.tokens);
  // A prefix: its bytes in proportion to the tokens kept.
  auto prefix = corpus->load(0, 1000);
  ASSERT_EQ(prefix.tokens.size(), 1000u);
  EXPECT_EQ(prefix.bytes, prefix_bytes(long_one.bytes, 1000, static_cast<int64_t>(tokens.size())));
}
