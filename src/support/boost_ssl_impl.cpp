// The one translation unit that compiles Asio's OpenSSL glue (separate compilation).
#include <boost/asio/ssl/impl/src.hpp>
