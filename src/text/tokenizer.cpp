#include "fas/text/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/text/sentencepiece.h"
#include "fas/text/wordpiece.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

// fairseq's dictionary puts <s>, <pad>, </s>, <unk> first; sentencepiece's own control pieces shift up by one.
constexpr int64_t kFairseqBos = 0, kFairseqPad = 1, kFairseqEos = 2, kFairseqUnk = 3, kFairseqOffset = 1;

// An HuggingFace model folder (vocab.txt inside) is WordPiece; a file is a sentencepiece model.
bool IsWordPieceModel(const std::string& model) { return fs::is_directory(model); }

std::string SidecarPath(const std::string& model_path) {
  fs::path p(model_path);
  return (p.parent_path() / p.stem()).string() + ".yaml";
}

}  // namespace

void TokenizerConfig::Validate() const {
  if (model.empty()) {
    throw ConfigError("tokenizer.model: a sentencepiece .model file or a HuggingFace model folder (WordPiece: "
                      "vocab.txt) is required");
  }
  if (convention != "auto" && convention != "native" && convention != "fairseq") {
    throw ConfigError("tokenizer.convention must be auto, native or fairseq, got '" + convention + "'");
  }
  if (padding != "longest" && padding != "max_length") {
    throw ConfigError("tokenizer.padding must be longest or max_length, got '" + padding + "'");
  }
  if (max_length < 0 || (max_length > 0 && add_special_tokens && max_length < 3)) {
    throw ConfigError("tokenizer.max_length must be 0 (no truncation) or at least 3 with special tokens, got " +
                      std::to_string(max_length));
  }
  if (padding == "max_length" && max_length == 0) {
    throw ConfigError("tokenizer.padding: max_length needs tokenizer.max_length > 0");
  }
  normalization.Validate();
}

TokenizerConfig TokenizerConfig::ForModel(const std::string& model_path) {
  const std::string sidecar = SidecarPath(model_path);
  TokenizerConfig c = !IsWordPieceModel(model_path) && fs::is_regular_file(sidecar)
                          ? LoadConfig<TokenizerConfig>({sidecar})
                          : TokenizerConfig{};
  c.model = model_path;
  return c;
}

Tokenizer::Tokenizer(TokenizerConfig config) : config_(std::move(config)) {
  config_.Validate();
  if (IsWordPieceModel(config_.model)) {
    if (config_.convention == "fairseq") {
      throw ConfigError("tokenizer " + config_.model + ": convention fairseq is for XLM-R's sentencepiece model; a "
                        "WordPiece folder has its own ids (convention auto or native)");
    }
    wp_ = std::make_unique<WordPiece>(config_.model);
    pad_id_ = wp_->pad_id();
    unk_id_ = wp_->unk_id();
    bos_id_ = wp_->cls_id();
    eos_id_ = wp_->sep_id();
    mask_id_ = wp_->mask_id();
    vocab_size_ = wp_->size();
    return;
  }
  sp_ = std::make_unique<SentencePiece>(config_.model);
  const bool xlmr_layout = sp_->pad_id() < 0 && sp_->unk_id() == 0 && sp_->bos_id() == 1 && sp_->eos_id() == 2;
  if (config_.convention == "fairseq" && !xlmr_layout) {
    throw ConfigError("tokenizer " + config_.model +
                      ": convention fairseq needs a model with <unk> 0, <s> 1, </s> 2 and no <pad> (XLM-R's "
                      "sentencepiece.bpe.model); this one has unk " + std::to_string(sp_->unk_id()) + ", bos " +
                      std::to_string(sp_->bos_id()) + ", eos " + std::to_string(sp_->eos_id()) + ", pad " +
                      std::to_string(sp_->pad_id()));
  }
  fairseq_ = config_.convention == "fairseq" || (config_.convention == "auto" && xlmr_layout);
  if (fairseq_) {
    bos_id_ = kFairseqBos;
    pad_id_ = kFairseqPad;
    eos_id_ = kFairseqEos;
    unk_id_ = kFairseqUnk;
    mask_id_ = sp_->PieceSize() + kFairseqOffset;
    vocab_size_ = mask_id_ + 1;
    return;
  }
  pad_id_ = sp_->pad_id();
  unk_id_ = sp_->unk_id();
  bos_id_ = sp_->bos_id();
  eos_id_ = sp_->eos_id();
  vocab_size_ = sp_->PieceSize();
  if (pad_id_ < 0 || (config_.add_special_tokens && (bos_id_ < 0 || eos_id_ < 0))) {
    throw ConfigError("tokenizer " + config_.model +
                      " has no <pad>" + std::string(config_.add_special_tokens ? ", <s> or </s>" : "") +
                      " piece; train it with fas tokenizer train, or use convention fairseq for an XLM-R model");
  }
}

Tokenizer::~Tokenizer() = default;

std::string Tokenizer::Normalize(const std::string& text) const {
  return config_.normalize ? NormalizeText(text, config_.normalization) : text;
}

int64_t Tokenizer::FromPiece(int spm_id) const {
  if (!fairseq_) return spm_id;
  return spm_id == sp_->unk_id() ? kFairseqUnk : spm_id + kFairseqOffset;
}

int Tokenizer::ToPiece(int64_t id) const {
  if (id < 0 || id >= vocab_size_) throw DataError("token id " + std::to_string(id) + " outside the vocabulary [0, " +
                                                   std::to_string(vocab_size_) + ")");
  if (id == unk_id_) return sp_->unk_id();
  if (id == pad_id_ || id == bos_id_ || id == eos_id_ || id == mask_id_) return -1;
  return static_cast<int>(fairseq_ ? id - kFairseqOffset : id);
}

std::vector<int64_t> Tokenizer::PieceIds(const std::string& normalized) const {
  if (wp_) return wp_->Encode(normalized);
  std::vector<int64_t> ids;
  for (int p : sp_->Encode(normalized)) ids.push_back(FromPiece(p));
  return ids;
}

std::vector<int64_t> Tokenizer::Encode(const std::string& text) const {
  const std::vector<int64_t> pieces = PieceIds(Normalize(text));
  const int specials = config_.add_special_tokens ? 2 : 0;
  size_t keep = pieces.size();
  if (config_.max_length > 0) keep = std::min(keep, static_cast<size_t>(config_.max_length - specials));
  std::vector<int64_t> ids;
  ids.reserve(keep + specials);
  if (specials) ids.push_back(bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(keep));
  if (specials) ids.push_back(eos_id_);
  return ids;
}

TokenBatch Tokenizer::EncodeBatch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 0;
  for (const auto& t : texts) {
    rows.push_back(Encode(t));
    longest = std::max(longest, rows.back().size());
  }
  const int64_t width = config_.padding == "max_length" ? config_.max_length : static_cast<int64_t>(longest);
  const int64_t batch = static_cast<int64_t>(rows.size());
  TokenBatch out;
  out.input_ids = torch::full({batch, width}, pad_id_, torch::kInt64);
  out.attention_mask = torch::zeros({batch, width}, torch::kInt64);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& row = rows[b];
    for (size_t i = 0; i < row.size(); ++i) {
      ids[b][i] = row[i];
      mask[b][i] = 1;
    }
    out.lengths.push_back(static_cast<int64_t>(row.size()));
  }
  return out;
}

std::string Tokenizer::Decode(const std::vector<int64_t>& ids) const {
  if (wp_) return wp_->Decode(ids);
  std::vector<int> pieces;
  for (int64_t id : ids) {
    const int p = ToPiece(id);
    if (p >= 0) pieces.push_back(p);
  }
  return sp_->Decode(pieces);
}

std::vector<std::string> Tokenizer::Pieces(const std::string& text) const {
  return wp_ ? wp_->Tokenize(Normalize(text)) : sp_->EncodePieces(Normalize(text));
}

std::string TrainTokenizer(const std::vector<std::string>& texts, const TokenizerTrainOptions& options) {
  if (options.prefix.empty()) throw ConfigError("tokenizer training needs an output prefix");
  if (options.model_type != "unigram" && options.model_type != "bpe") {
    throw ConfigError("tokenizer model type must be unigram or bpe, got '" + options.model_type + "'");
  }
  options.normalization.Validate();
  const fs::path prefix(options.prefix);
  if (prefix.has_parent_path()) fs::create_directories(prefix.parent_path());

  const std::string corpus = options.prefix + ".train.txt";
  size_t lines = 0;
  {
    std::ofstream out(corpus);
    if (!out) throw IoError("cannot write " + corpus);
    for (const auto& t : texts) {
      const std::string n = options.normalize ? NormalizeText(t, options.normalization) : t;
      if (n.find_first_not_of(" \t\r\n") == std::string::npos) continue;
      std::string line = n;
      std::replace(line.begin(), line.end(), '\n', ' ');
      out << line << '\n';
      ++lines;
    }
    if (!out.flush()) throw IoError("cannot write " + corpus);
  }
  if (lines == 0) {
    fs::remove(corpus);
    throw DataError("no text to train a tokenizer on (all " + std::to_string(texts.size()) +
                    " texts are empty after normalisation)");
  }

  SentencePieceTrainOptions o;
  o.input = corpus;
  o.model_prefix = options.prefix;
  o.vocab_size = options.vocab_size;
  o.model_type = options.model_type;
  o.seed = options.seed;
  o.threads = options.threads;
  try {
    SentencePiece::Train(o);
  } catch (...) {
    fs::remove(corpus);
    throw;
  }
  fs::remove(corpus);

  TokenizerConfig stored;
  stored.model = prefix.filename().string() + ".model";
  stored.convention = "native";
  stored.max_length = options.max_length;
  stored.normalize = options.normalize;
  stored.normalization = options.normalization;
  const std::string yaml = "# written by fas tokenizer train; read back by Tokenizer so that inference normalises "
                           "as training did\n" + ConfigToString(stored);
  const std::string sidecar = SidecarPath(options.prefix + ".model");
  std::ofstream out(sidecar);
  if (!(out << yaml) || !out.flush()) throw IoError("cannot write " + sidecar);
  return options.prefix + ".model";
}

}  // namespace fas
