#include "pool/common/sealed_chunks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace accel::pool {
namespace {

EVP_CIPHER_CTX* Context(void* p) { return static_cast<EVP_CIPHER_CTX*>(p); }
const unsigned char* Bytes(const void* p) { return static_cast<const unsigned char*>(p); }
unsigned char* Bytes(void* p) { return static_cast<unsigned char*>(p); }

absl::Status Failed(const char* what) {
  return absl::InternalError(absl::StrCat("bulk channel: AES-256-GCM ", what, " failed"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChunkCipher>> ChunkCipher::Create(const SealKey& key,
                                                                 Direction direction,
                                                                 uint64_t chunks_per_key) {
  if (key.key.size() != kSealKeyBytes || key.iv.size() != kSealIvBytes || chunks_per_key == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk channel: a key of ", key.key.size(), " bytes and an IV of ",
                     key.iv.size(), " bytes; want ", kSealKeyBytes, " and ", kSealIvBytes));
  }
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  if (context == nullptr ||
      EVP_CipherInit_ex(context, EVP_aes_256_gcm(), nullptr, Bytes(key.key.data()), nullptr,
                        direction == Direction::kSeal ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(context);
    return Failed("set-up");
  }
  return std::unique_ptr<ChunkCipher>(
      new ChunkCipher(context, key, direction == Direction::kSeal, chunks_per_key));
}

absl::Status ChunkCipher::Advance() {
  ++sequence_;
  if (sequence_ % chunks_per_key_ != 0) return absl::OkStatus();
  // The next key and IV, from this key alone: the other end derives the
  // same at the same chunk.
  unsigned char next_key[32], next_iv[32];
  unsigned int length = 0;
  static constexpr char kKeyLabel[] = "accelpool bulk channel: next key";
  static constexpr char kIvLabel[] = "accelpool bulk channel: next iv";
  if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), Bytes(kKeyLabel),
           sizeof(kKeyLabel) - 1, next_key, &length) == nullptr ||
      HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), Bytes(kIvLabel),
           sizeof(kIvLabel) - 1, next_iv, &length) == nullptr ||
      EVP_CipherInit_ex(Context(context_), nullptr, nullptr, next_key, nullptr, seal_ ? 1 : 0) !=
          1) {
    return Failed("next key");
  }
  key_.assign(reinterpret_cast<const char*>(next_key), kSealKeyBytes);
  iv_.assign(reinterpret_cast<const char*>(next_iv), kSealIvBytes);
  OPENSSL_cleanse(next_key, sizeof(next_key));
  OPENSSL_cleanse(next_iv, sizeof(next_iv));
  return absl::OkStatus();
}

ChunkCipher::~ChunkCipher() { EVP_CIPHER_CTX_free(Context(context_)); }

void ChunkCipher::Nonce(unsigned char out[kSealIvBytes]) const {
  std::memcpy(out, iv_.data(), kSealIvBytes);
  for (int i = 0; i < 8; ++i)
    out[kSealIvBytes - 1 - i] ^= static_cast<unsigned char>(sequence_ >> (8 * i));
}

absl::Status ChunkCipher::Seal(const void* plaintext, size_t n, char* out) {
  if (n == 0 || n > kMaxSealedChunk) {
    return absl::InvalidArgumentError(absl::StrCat("bulk channel: cannot seal ", n, " bytes"));
  }
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (8 * i));
  unsigned char nonce[kSealIvBytes];
  Nonce(nonce);
  EVP_CIPHER_CTX* context = Context(context_);
  int length = 0;
  if (EVP_EncryptInit_ex(context, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_EncryptUpdate(context, nullptr, &length, Bytes(out), kSealedHeaderBytes) != 1 ||
      EVP_EncryptUpdate(context, Bytes(out + kSealedHeaderBytes), &length, Bytes(plaintext),
                        static_cast<int>(n)) != 1 ||
      EVP_EncryptFinal_ex(context, Bytes(out + kSealedHeaderBytes + n), &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, kSealTagBytes,
                          out + kSealedHeaderBytes + n) != 1) {
    return Failed("sealing");
  }
  return Advance();
}

absl::StatusOr<size_t> ChunkCipher::ChunkLength(const char header[kSealedHeaderBytes]) {
  size_t n = 0;
  for (int i = 0; i < 4; ++i) n |= size_t{static_cast<unsigned char>(header[i])} << (8 * i);
  if (n == 0 || n > kMaxSealedChunk) {
    return absl::DataLossError(absl::StrCat("bulk channel: a sealed chunk announces ", n,
                                            " bytes (at most ", kMaxSealedChunk, ")"));
  }
  return n;
}

absl::Status ChunkCipher::Open(const char header[kSealedHeaderBytes], char* data, size_t n,
                               const char tag[kSealTagBytes]) {
  unsigned char nonce[kSealIvBytes];
  Nonce(nonce);
  char expected_tag[kSealTagBytes];
  std::memcpy(expected_tag, tag, kSealTagBytes);  // the API takes it as writable
  EVP_CIPHER_CTX* context = Context(context_);
  int length = 0;
  if (EVP_DecryptInit_ex(context, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_DecryptUpdate(context, nullptr, &length, Bytes(header), kSealedHeaderBytes) != 1 ||
      EVP_DecryptUpdate(context, Bytes(data), &length, Bytes(data), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, kSealTagBytes, expected_tag) != 1) {
    return Failed("opening");
  }
  unsigned char rest[16];
  if (EVP_DecryptFinal_ex(context, rest, &length) != 1) {
    return absl::DataLossError(absl::StrCat("bulk channel: sealed chunk ", sequence_,
                                            " fails authentication (altered, lost or replayed)"));
  }
  return Advance();
}

void PrepareChunkCiphers() {
  const SealKey zero{std::string(kSealKeyBytes, '\0'), std::string(kSealIvBytes, '\0'), 0};
  ChunkCipher::Create(zero, ChunkCipher::Direction::kOpen).status().IgnoreError();
}

absl::StatusOr<std::string> OpenWholeChunk(SealKey& key, std::string_view sealed) {
  if (sealed.size() < kSealedHeaderBytes + kSealTagBytes) {
    return absl::DataLossError("bulk channel: a sealed chunk cut short");
  }
  absl::StatusOr<size_t> n = ChunkCipher::ChunkLength(sealed.data());
  if (!n.ok()) return n.status();
  if (sealed.size() != kSealedHeaderBytes + *n + kSealTagBytes) {
    return absl::DataLossError(
        absl::StrCat("bulk channel: a sealed chunk of ", sealed.size(), " bytes announces ", *n));
  }
  absl::StatusOr<std::unique_ptr<ChunkCipher>> cipher =
      ChunkCipher::Create(key, ChunkCipher::Direction::kOpen);
  if (!cipher.ok()) return cipher.status();
  std::string plaintext(sealed.substr(kSealedHeaderBytes, *n));
  if (absl::Status s = (*cipher)->Open(sealed.data(), plaintext.data(), *n,
                                       sealed.data() + kSealedHeaderBytes + *n);
      !s.ok()) {
    return s;
  }
  key = (*cipher)->current();
  return plaintext;
}

}  // namespace accel::pool
