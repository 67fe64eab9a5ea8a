;; matmul: C = A x B for two n x n matrices of 32-bit integers (wrapping arithmetic, mod 2^32).
;;
;; Input (little-endian):  n: u32, then A (n*n i32, row-major), then B (n*n i32, row-major),
;;                         so exactly 4 + 8*n*n bytes.
;; Output:                 C (n*n i32, row-major, little-endian).
;; Exit codes:             0 ok, 1 input length is not 4 + 8*n*n, 2 memory.grow refused (cap).
;;
;; Memory layout: the input is copied to address 0 (n at 0, A at 4, B at 4 + 4n²),
;; C follows at 4 + 8n². The loop order i-k-j walks B and C row by row.
(module
  (import "edgenet" "input_len" (func $input_len (result i32)))
  (import "edgenet" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "edgenet" "write_output" (func $write_output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $len i32) (local $n i32) (local $nn4 i32)
    (local $a i32) (local $b i32) (local $c i32) (local $pages i32)
    (local $i i32) (local $k i32) (local $j i32)
    (local $aik i32) (local $rowb i32) (local $rowc i32)
    (local.set $len (call $input_len))
    (if (i32.lt_u (local.get $len) (i32.const 4)) (then (return (i32.const 1))))
    (drop (call $read_input (i32.const 0) (i32.const 0) (i32.const 4)))
    (local.set $n (i32.load (i32.const 0)))
    ;; 4 + 8*n*n computed in 64 bits, so a huge n cannot wrap around
    (if (i64.ne
          (i64.extend_i32_u (local.get $len))
          (i64.add (i64.const 4)
                   (i64.mul (i64.const 8)
                            (i64.mul (i64.extend_i32_u (local.get $n))
                                     (i64.extend_i32_u (local.get $n))))))
      (then (return (i32.const 1))))
    (local.set $nn4 (i32.mul (i32.const 4) (i32.mul (local.get $n) (local.get $n))))
    (local.set $a (i32.const 4))
    (local.set $b (i32.add (i32.const 4) (local.get $nn4)))
    (local.set $c (local.get $len))
    ;; pages needed for input + C, rounded up
    (local.set $pages
      (i32.shr_u (i32.add (i32.add (local.get $len) (local.get $nn4)) (i32.const 65535))
                 (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const 2))))))
    (drop (call $read_input (i32.const 0) (i32.const 0) (local.get $len)))
    (local.set $i (i32.const 0))
    (block $i_done
      (loop $i_loop
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $rowc
          (i32.add (local.get $c) (i32.mul (i32.const 4) (i32.mul (local.get $i) (local.get $n)))))
        (local.set $k (i32.const 0))
        (block $k_done
          (loop $k_loop
            (br_if $k_done (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $aik
              (i32.load
                (i32.add (local.get $a)
                  (i32.mul (i32.const 4)
                    (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k))))))
            (local.set $rowb
              (i32.add (local.get $b)
                (i32.mul (i32.const 4) (i32.mul (local.get $k) (local.get $n)))))
            (local.set $j (i32.const 0))
            (block $j_done
              (loop $j_loop
                (br_if $j_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store
                  (i32.add (local.get $rowc) (i32.shl (local.get $j) (i32.const 2)))
                  (i32.add
                    (i32.load (i32.add (local.get $rowc) (i32.shl (local.get $j) (i32.const 2))))
                    (i32.mul
                      (local.get $aik)
                      (i32.load
                        (i32.add (local.get $rowb) (i32.shl (local.get $j) (i32.const 2)))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $j_loop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $k_loop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
    (drop (call $write_output (local.get $c) (local.get $nn4)))
    (i32.const 0)))
