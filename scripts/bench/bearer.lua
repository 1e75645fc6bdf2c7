-- wrk script: GET a bearer-protected endpoint (/api/v4/user or /oauth/userinfo), counting status codes.
--
-- Environment (set by scripts/bench/oauth.sh):
--   BENCH_TOKENS       file of "access_token<TAB>refresh_token" lines; thread i uses the tokens
--                      on lines i, i + threads, ... round-robin (different users' tokens)
--   BENCH_THREADS      wrk -t (to split the token file)
--   BENCH_STATUS_FILE  if set, done() appends "status count" lines to it

local threads = {}
local next_id = 0
function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

local function load_tokens(col)
    local path = os.getenv("BENCH_TOKENS") or error("BENCH_TOKENS is not set")
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local list, i = {}, 0
    for line in io.lines(path) do
        if (i % nthreads) + 1 == id then
            local a, r = line:match("^([^\t]+)\t([^\t]+)$")
            table.insert(list, col == 1 and a or r)
        end
        i = i + 1
    end
    if #list == 0 then error("no tokens for thread " .. id) end
    return list
end

counts = {}
local tokens, k
function init(args)
    tokens = load_tokens(1)
    k = 0
end

function request()
    k = k % #tokens + 1
    return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. tokens[k] })
end

function response(status, _, _)
    local key = tostring(status)
    counts[key] = (counts[key] or 0) + 1
end

function done(stats, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for key, v in pairs(thread:get("counts") or {}) do total[key] = (total[key] or 0) + v end
    end
    local keys = {}
    for key in pairs(total) do table.insert(keys, key) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, key in ipairs(keys) do
        io.write(string.format("status %s: %d\n", key, total[key]))
        if file then file:write(string.format("%s %d\n", key, total[key])) end
    end
    if file then file:close() end
end
