;; sum_bytes: the sum of all input bytes, as 8 bytes (u64, little-endian).
(module
  (import "edgenet" "input_len" (func $input_len (result i32)))
  (import "edgenet" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "edgenet" "write_output" (func $write_output (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "run") (result i32)
    (local $offset i32)
    (local $n i32)
    (local $i i32)
    (local $sum i64)
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $offset) (call $input_len)))
        (local.set $n (call $read_input (i32.const 0) (local.get $offset) (i32.const 65536)))
        (local.set $i (i32.const 0))
        (block $end
          (loop $byte
            (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $sum (i64.add (local.get $sum) (i64.load8_u (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $byte)))
        (local.set $offset (i32.add (local.get $offset) (local.get $n)))
        (br $chunk)))
    (i64.store (i32.const 65536) (local.get $sum))
    (drop (call $write_output (i32.const 65536) (i32.const 8)))
    (i32.const 0)))
