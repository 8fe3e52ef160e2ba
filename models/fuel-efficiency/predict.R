# Long-lived prediction worker: one JSON request per stdin line, one JSON response line out.
#   request:  {"columns": ["cyl", ...], "data": [[6, ...], ...]}
#   response: {"predictions": [21.3, ...]}  or  {"error": "..."}
local({
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  source(file.path(dirname(sub("^--file=", "", file_arg[1])), "common.R"))
})
suppressPackageStartupMessages(library(randomForest))

# Turn one request line into a data frame with the model's feature columns, or stop().
parse_request <- function(line, features) {
  req <- tryCatch(
    fromJSON(line, simplifyVector = FALSE),
    error = function(e) stop("invalid JSON: ", conditionMessage(e), call. = FALSE)
  )
  if (!is.list(req) || is.null(names(req))) stop("request must be a JSON object", call. = FALSE)
  unknown_keys <- setdiff(names(req), c("columns", "data"))
  if (length(unknown_keys) > 0) stop("unknown key '", unknown_keys[1], "'", call. = FALSE)
  is_name <- function(v) is.character(v) && length(v) == 1
  columns <- req$columns
  if (!is.list(columns) || !all(vapply(columns, is_name, logical(1)))) {
    stop("'columns' must be a list of strings", call. = FALSE)
  }
  columns <- as.character(unlist(columns))
  unknown <- setdiff(columns, features)
  if (length(unknown) > 0) stop("unknown column '", unknown[1], "'", call. = FALSE)
  if (anyDuplicated(columns)) stop("duplicate column names", call. = FALSE)
  missing <- setdiff(features, columns)
  if (length(missing) > 0) stop("missing column '", missing[1], "'", call. = FALSE)
  data <- req$data
  if (!is.list(data)) stop("'data' must be a list of rows", call. = FALSE)
  # JSON true/false arrive as logical and null as NULL: both rejected as non-numeric.
  is_number <- function(v) is.numeric(v) && length(v) == 1 && is.finite(v)
  for (i in seq_along(data)) {
    row <- data[[i]]
    if (!is.list(row) || length(row) != length(columns) ||
        !all(vapply(row, is_number, logical(1)))) {
      stop("row ", i - 1, " must be a list of ", length(columns), " numbers", call. = FALSE)
    }
  }
  values <- matrix(as.numeric(unlist(data)), ncol = length(columns), byrow = TRUE,
                   dimnames = list(NULL, columns))
  as.data.frame(values)[, features, drop = FALSE]
}

respond <- function(line, model, features) {
  error_json <- function(msg) {
    paste0('{"error": ', toJSON(trimws(gsub("\\s+", " ", msg)), auto_unbox = TRUE), "}")
  }
  frame <- tryCatch(parse_request(line, features), error = function(e) e)
  if (inherits(frame, "error")) return(error_json(conditionMessage(frame)))
  if (nrow(frame) == 0) return('{"predictions": []}')
  pred <- tryCatch(unname(predict(model, newdata = frame)), error = function(e) e)
  if (inherits(pred, "error")) {
    return(error_json(paste("prediction failed:", conditionMessage(pred))))
  }
  if (!all(is.finite(pred))) return(error_json("prediction failed: non-finite prediction"))
  paste0('{"predictions": [', paste(vapply(pred, num_json, character(1)), collapse = ", "), "]}")
}

main <- function() {
  flags <- parse_flags(list("model-dir" = "model"))
  loaded <- load_model(flags[["model-dir"]])
  con <- file("stdin")
  open(con)
  cat('{"ready": true}', "\n", sep = "")
  flush(stdout())
  repeat {
    line <- readLines(con, n = 1, warn = FALSE)
    if (length(line) == 0) break
    cat(respond(line, loaded$model, loaded$features), "\n", sep = "")
    flush(stdout())
  }
  close(con)
}

run(main)
