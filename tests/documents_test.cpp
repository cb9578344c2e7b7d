// Document sources (SPEC section 3) and the tokenizer's document framing.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/errors.h"
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
