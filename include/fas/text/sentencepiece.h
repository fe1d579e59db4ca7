// Sentencepiece models (unigram, BPE): training and encoding.
//
// Why a shim: Debian's libsentencepiece carries its own protobuf 3.14 and LibTorch links protobuf 3.21; in one
// process they crash before main or abort on protobuf's version check (docs/design.md, "The machine, measured"). So the real
// sentencepiece library is wrapped in a tiny C-interface shared library (libfas_spm_shim.so) that this class loads
// with dlmopen(LM_ID_NEWLM), giving it a link namespace of its own. Only plain buffers cross the boundary.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fas {

struct SentencePieceTrainOptions {
  std::string input;         // a text file, one sentence a line
  std::string model_prefix;  // writes PREFIX.model and PREFIX.vocab
  int vocab_size = 1000;
  std::string model_type = "unigram";  // unigram | bpe | char | word
  double character_coverage = 1.0;
  // Special ids: BERT-style layout by default (pad 0, unk 1, bos 2, eos 3) so padding is id 0.
  int pad_id = 0, unk_id = 1, bos_id = 2, eos_id = 3;
  uint64_t seed = 42;
  int threads = 1;
};

class SentencePiece {
 public:
  static void Train(const SentencePieceTrainOptions& options);

  explicit SentencePiece(const std::string& model_path);
  ~SentencePiece();
  SentencePiece(const SentencePiece&) = delete;
  SentencePiece& operator=(const SentencePiece&) = delete;

  std::vector<int> Encode(const std::string& text) const;
  std::vector<std::string> EncodePieces(const std::string& text) const;
  std::string Decode(const std::vector<int>& ids) const;

  int PieceSize() const;
  int PieceToId(const std::string& piece) const;
  std::string IdToPiece(int id) const;
  int unk_id() const;
  int bos_id() const;
  int eos_id() const;
  int pad_id() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
};

// Where the shim was loaded from (for `fas doctor`); loads it if needed. Throws IoError when it cannot be found.
std::string SentencePieceShimPath();

}  // namespace fas
