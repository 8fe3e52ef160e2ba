# Shared code for the disease-progression example model (Julia 1.5, standard library only):
# command-line flags, CSV reading, a small JSON reader/writer, the ridge model and metrics.

using LinearAlgebra
using Printf
using Serialization
using Statistics

const FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
const TARGET = "progression"
const MODEL_FILE = "model.jls"
const FEATURES_FILE = "features.json"
const COEFFICIENTS_FILE = "coefficients.csv"

# A single BLAS thread keeps floating-point results identical from run to run.
LinearAlgebra.BLAS.set_num_threads(1)

# ---------------------------------------------------------------------------- errors and flags

"Print a one-line error on stderr and exit (status 2 = bad flags, 1 = anything else)."
function die(msg::AbstractString; status::Int = 1)
    println(stderr, basename(PROGRAM_FILE), ": error: ", replace(strip(msg), r"\s+" => " "))
    exit(status)
end

"Run `main`, turning any uncaught exception into a one-line message and exit status 1."
function run(main::Function)
    try
        main()
    catch err
        err isa InterruptException && rethrow()
        die(sprint(showerror, err))
    end
end

"Parse `--name value` pairs from ARGS; only names present in `defaults` are accepted."
function parse_flags(defaults::Vector{Pair{String,String}}, args = ARGS)
    flags = Dict(defaults)
    isodd(length(args)) && die("flags must be given as --name value pairs"; status = 2)
    for i in 1:2:length(args)
        key = startswith(args[i], "--") ? args[i][3:end] : ""
        if !haskey(flags, key)
            known = join(["--" * first(p) for p in defaults], ", ")
            die("unrecognized argument $(args[i]) (known: $known)"; status = 2)
        end
        flags[key] = args[i + 1]
    end
    return flags
end

function flag_int(flags, key)
    value = tryparse(Int, flags[key])
    if value === nothing
        die("argument --$key: expected an integer, got '$(flags[key])'"; status = 2)
    end
    return value
end

function flag_nonneg_float(flags, key)
    value = tryparse(Float64, flags[key])
    if value === nothing || !isfinite(value) || value < 0
        die("argument --$key: expected a number >= 0, got '$(flags[key])'"; status = 2)
    end
    return value
end

# ---------------------------------------------------------------------------- CSV

"Read a numeric CSV with a header; return the columns named in `columns` as a matrix."
function read_table(path::AbstractString, columns::Vector{String})
    isfile(path) || die("$path: no such file")
    lines = filter(!isempty, map(l -> rstrip(l, '\r'), readlines(path)))
    isempty(lines) && die("$path: empty file")
    header = String.(split(lines[1], ','))
    missing_cols = setdiff(columns, header)
    isempty(missing_cols) || die("$path: missing column(s) $(join(missing_cols, ", "))")
    length(lines) > 1 || die("$path: no data rows")
    index = [findfirst(==(c), header) for c in columns]
    table = Matrix{Float64}(undef, length(lines) - 1, length(columns))
    for (r, line) in enumerate(lines[2:end])
        fields = split(line, ',')
        if length(fields) != length(header)
            die("$path line $(r + 1): expected $(length(header)) fields")
        end
        for (j, k) in enumerate(index)
            value = tryparse(Float64, fields[k])
            if value === nothing || !isfinite(value)
                die("$path line $(r + 1): column $(header[k]) is not a number: '$(fields[k])'")
            end
            table[r, j] = value
        end
    end
    return table
end

# ---------------------------------------------------------------------------- JSON

struct JSONError <: Exception
    msg::String
end
Base.showerror(io::IO, e::JSONError) = print(io, e.msg)

const MAX_DEPTH = 64  # bounds recursion on hostile input

"Parse one JSON text. Objects -> Dict{String,Any}, arrays -> Vector{Any}, numbers -> Float64."
function parse_json(text::AbstractString)
    bytes = codeunits(String(text))
    value, pos = json_value(bytes, json_skip(bytes, 1), 0)
    pos = json_skip(bytes, pos)
    pos <= length(bytes) && throw(JSONError("invalid JSON: unexpected data at byte $pos"))
    return value
end

function json_skip(b, pos)
    while pos <= length(b) && b[pos] in (UInt8(' '), UInt8('\t'), UInt8('\n'), UInt8('\r'))
        pos += 1
    end
    return pos
end

json_fail(what, pos) = throw(JSONError("invalid JSON: $what at byte $pos"))

function json_value(b, pos, depth)
    depth > MAX_DEPTH && json_fail("nesting too deep", pos)
    pos > length(b) && json_fail("unexpected end of input", pos)
    c = Char(b[pos])
    c == '{' && return json_object(b, pos, depth)
    c == '[' && return json_array(b, pos, depth)
    c == '"' && return json_string(b, pos)
    (c == '-' || isdigit(c)) && return json_number(b, pos)
    for (word, value) in (("true", true), ("false", false), ("null", nothing))
        n = pos + length(word) - 1
        n <= length(b) && String(b[pos:n]) == word && return value, n + 1
    end
    json_fail("unexpected character '$c'", pos)
end

function json_object(b, pos, depth)
    result = Dict{String,Any}()
    pos = json_skip(b, pos + 1)
    pos <= length(b) && b[pos] == UInt8('}') && return result, pos + 1
    while true
        (pos <= length(b) && b[pos] == UInt8('"')) || json_fail("expected a string key", pos)
        key, pos = json_string(b, pos)
        haskey(result, key) && throw(JSONError("invalid JSON: duplicate key '$key'"))
        pos = json_skip(b, pos)
        (pos <= length(b) && b[pos] == UInt8(':')) || json_fail("expected ':'", pos)
        result[key], pos = json_value(b, json_skip(b, pos + 1), depth + 1)
        pos = json_skip(b, pos)
        pos > length(b) && json_fail("unexpected end of input", pos)
        b[pos] == UInt8('}') && return result, pos + 1
        b[pos] == UInt8(',') || json_fail("expected ',' or '}'", pos)
        pos = json_skip(b, pos + 1)
    end
end

function json_array(b, pos, depth)
    result = Any[]
    pos = json_skip(b, pos + 1)
    pos <= length(b) && b[pos] == UInt8(']') && return result, pos + 1
    while true
        value, pos = json_value(b, pos, depth + 1)
        push!(result, value)
        pos = json_skip(b, pos)
        pos > length(b) && json_fail("unexpected end of input", pos)
        b[pos] == UInt8(']') && return result, pos + 1
        b[pos] == UInt8(',') || json_fail("expected ',' or ']'", pos)
        pos = json_skip(b, pos + 1)
    end
end

function json_hex4(b, pos)
    pos + 3 <= length(b) || json_fail("truncated \\u escape", pos)
    value = tryparse(UInt16, String(b[pos:pos + 3]); base = 16)
    value === nothing && json_fail("bad \\u escape", pos)
    return Int(value)
end

const JSON_ESCAPES = Dict('"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f',
                          'n' => '\n', 'r' => '\r', 't' => '\t')

function json_string(b, pos)
    io = IOBuffer()
    pos += 1  # opening quote
    while true
        pos > length(b) && json_fail("unterminated string", pos)
        c = b[pos]
        if c == UInt8('"')
            return String(take!(io)), pos + 1
        elseif c < 0x20
            json_fail("control character in string", pos)
        elseif c != UInt8('\\')
            write(io, c)  # raw byte; multi-byte UTF-8 passes through unchanged
            pos += 1
            continue
        end
        pos + 1 > length(b) && json_fail("unterminated string", pos)
        e = Char(b[pos + 1])
        if e == 'u'
            code = json_hex4(b, pos + 2)
            pos += 6
            # A high surrogate must be followed by \u and a low surrogate (a UTF-16 pair).
            if 0xD800 <= code <= 0xDBFF && pos + 1 <= length(b) && b[pos] == UInt8('\\') &&
               b[pos + 1] == UInt8('u')
                low = json_hex4(b, pos + 2)
                0xDC00 <= low <= 0xDFFF || json_fail("bad surrogate pair", pos)
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                pos += 6
            end
            0xD800 <= code <= 0xDFFF && json_fail("unpaired surrogate", pos)
            print(io, Char(code))
        elseif haskey(JSON_ESCAPES, e)
            print(io, JSON_ESCAPES[e])
            pos += 2
        else
            json_fail("bad escape '\\$e'", pos)
        end
    end
end

"Position of the first non-digit byte at or after `pos`."
function json_digits(b, pos)
    while pos <= length(b) && UInt8('0') <= b[pos] <= UInt8('9')
        pos += 1
    end
    return pos
end

# JSON number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
function json_number(b, pos)
    start = pos
    b[pos] == UInt8('-') && (pos += 1)
    pos <= length(b) && UInt8('0') <= b[pos] <= UInt8('9') || json_fail("bad number", start)
    pos = b[pos] == UInt8('0') ? pos + 1 : json_digits(b, pos)
    if pos <= length(b) && b[pos] == UInt8('.')
        next = json_digits(b, pos + 1)
        next == pos + 1 && json_fail("bad number", start)
        pos = next
    end
    if pos <= length(b) && b[pos] in (UInt8('e'), UInt8('E'))
        pos += 1
        pos <= length(b) && b[pos] in (UInt8('+'), UInt8('-')) && (pos += 1)
        next = json_digits(b, pos)
        next == pos && json_fail("bad number", start)
        pos = next
    end
    value = tryparse(Float64, String(b[start:pos - 1]))
    (value === nothing || !isfinite(value)) && json_fail("number out of range", start)
    return value, pos
end

"Write `x` as JSON. Floats print in Julia's shortest form that reads back exactly."
function write_json(io::IO, x)
    if x === nothing
        print(io, "null")
    elseif x isa Bool
        print(io, x ? "true" : "false")
    elseif x isa Real
        isfinite(x) || throw(ArgumentError("cannot write non-finite number $x as JSON"))
        print(io, x)  # e.g. 151.0, 0.1, 1.0e-5 - all valid JSON
    elseif x isa AbstractString
        write_json_string(io, x)
    elseif x isa AbstractVector
        print(io, "[")
        for (i, v) in enumerate(x)
            i > 1 && print(io, ", ")
            write_json(io, v)
        end
        print(io, "]")
    elseif x isa AbstractDict
        print(io, "{")
        for (i, k) in enumerate(sort!(collect(keys(x))))
            i > 1 && print(io, ", ")
            write_json_string(io, string(k))
            print(io, ": ")
            write_json(io, x[k])
        end
        print(io, "}")
    else
        throw(ArgumentError("cannot write $(typeof(x)) as JSON"))
    end
end

to_json(x) = sprint(write_json, x)

function write_json_string(io::IO, s::AbstractString)
    print(io, '"')
    for c in s
        if !isvalid(c)
            print(io, "\\ufffd")  # invalid UTF-8 from the input is replaced, never echoed
        elseif c == '"' || c == '\\'
            print(io, '\\', c)
        elseif c < ' '
            @printf(io, "\\u%04x", UInt32(c))
        else
            print(io, c)
        end
    end
    print(io, '"')
end

# ---------------------------------------------------------------------------- model and metrics

"Ridge regression on standardised features; the intercept (mean of y) is not penalised."
function fit_ridge(X::Matrix{Float64}, y::Vector{Float64}, lambda::Float64)
    mu = vec(mean(X; dims = 1))
    sd = vec(std(X; dims = 1))
    any(sd .== 0) && die("feature(s) with zero variance: $(join(FEATURES[sd .== 0], ", "))")
    Z = (X .- mu') ./ sd'
    # Z is centred, so the unpenalised intercept is mean(y) and the slopes solve
    # (Z'Z + lambda I) beta = Z'(y - mean(y)).
    intercept = mean(y)
    coef = cholesky(Symmetric(Z' * Z + lambda * I)) \ (Z' * (y .- intercept))
    return (format = 1, features = copy(FEATURES), mean = mu, std = sd, coef = coef,
            intercept = intercept, lambda = lambda)
end

function predict_ridge(model, X::Matrix{Float64})
    return model.intercept .+ ((X .- model.mean') ./ model.std') * model.coef
end

function load_model(model_dir::AbstractString)
    path = joinpath(model_dir, MODEL_FILE)
    isfile(path) || die("cannot load model: $path: no such file")
    model = open(deserialize, path)
    keys_needed = (:features, :mean, :std, :coef, :intercept)
    if !(model isa NamedTuple && all(k -> haskey(model, k), keys_needed))
        die("$path: not a ridge model")
    end
    return model
end

function regression_metrics(y, pred)
    err = y .- pred
    return Dict{String,Any}(
        "mae" => mean(abs.(err)),
        "r2" => 1 - sum(err .^ 2) / sum((y .- mean(y)) .^ 2),
        "rmse" => sqrt(mean(err .^ 2)),
    )
end

"Flat JSON: sorted keys, floats rounded to 6 decimals, one key per line, trailing newline."
function write_metrics(path::AbstractString, metrics::Dict{String,Any})
    lines = String[]
    for key in sort!(collect(keys(metrics)))
        value = metrics[key]
        value = value isa Integer ? value : round(value; digits = 6)
        push!(lines, "  " * to_json(key) * ": " * to_json(value))
    end
    write(path, "{\n" * join(lines, ",\n") * "\n}\n")
end
