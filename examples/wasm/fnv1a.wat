;; fnv1a: the 64-bit FNV-1a hash of the whole input, as 8 bytes (little-endian).
;;   h = 0xcbf29ce484222325; for each byte b: h = (h xor b) * 0x100000001b3 (mod 2^64)
;; The input is read in 64 KiB chunks into page 0; the hash is written from page 1.
(module
  (import "edgenet" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "edgenet" "write_output" (func $write_output (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "run") (result i32)
    (local $offset i32)
    (local $n i32)
    (local $i i32)
    (local $h i64)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $chunk
        (local.set $n (call $read_input (i32.const 0) (local.get $offset) (i32.const 65536)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $i (i32.const 0))
        (loop $byte
          (local.set $h
            (i64.mul
              (i64.xor (local.get $h) (i64.load8_u (local.get $i)))
              (i64.const 0x100000001b3)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $i) (local.get $n))))
        (local.set $offset (i32.add (local.get $offset) (local.get $n)))
        (br $chunk)))
    (i64.store (i32.const 65536) (local.get $h))
    (drop (call $write_output (i32.const 65536) (i32.const 8)))
    (i32.const 0)))
