#include "fas/core/error_text.h"

namespace fas {

std::string FirstLine(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace fas
