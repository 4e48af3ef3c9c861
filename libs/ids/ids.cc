#include "ids/ids.h"

#include <openssl/evp.h>

#include <cstdint>

#include "absl/strings/escaping.h"

namespace pbr::ids {

std::string DeterministicId(absl::string_view type, std::initializer_list<absl::string_view> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, type.data(), type.size());
  for (absl::string_view p : parts) {
    // Length-prefix each part so ("ab","c") and ("a","bc") differ.
    uint64_t n = p.size();
    EVP_DigestUpdate(ctx, &n, sizeof n);
    EVP_DigestUpdate(ctx, p.data(), p.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), 16));
}

}  // namespace pbr::ids
