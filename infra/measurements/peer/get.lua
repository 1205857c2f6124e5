-- GET with the access token in BENCH_ACCESS; the figures printed by the peer's common.lua
-- (BENCH_COMMON), as bench.sh prints them.
dofile(os.getenv("BENCH_COMMON"))

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_ACCESS")

function response(status, headers, body)
  count(status, body)
end
