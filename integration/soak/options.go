package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// options are the soak's knobs; each flag defaults to an environment
// variable so that `CYCLES=5 make soak` works.
type options struct {
	cycles      int
	hydrant     string
	minio       string
	workers     int
	batch       int
	pad         int
	minLoad     time.Duration
	maxLoad     time.Duration
	outage      time.Duration
	diskFull    time.Duration
	tmpfsSize   string
	drain       time.Duration
	keep        bool
	seed        uint64
	startupWait time.Duration
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envUint(name string, def uint64) uint64 {
	if v, err := strconv.ParseUint(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

func defaultMinio() string {
	cache := os.Getenv("HYDRANT_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "hydrant")
	}
	return filepath.Join(cache, "bin", "minio")
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.IntVar(&o.cycles, "cycles", envInt("CYCLES", 100), "kill -9 / restart cycles [CYCLES]")
	fs.StringVar(&o.hydrant, "hydrant", envString("HYDRANT_BIN", "bin/hydrant"), "hydrant binary [HYDRANT_BIN]")
	fs.StringVar(&o.minio, "minio", envString("MINIO_BIN", defaultMinio()), "minio binary (scripts/services.sh builds it) [MINIO_BIN]")
	fs.IntVar(&o.workers, "workers", envInt("SOAK_WORKERS", 4), "producers; even ones use PutRecordBatch, odd ones the NDJSON door [SOAK_WORKERS]")
	fs.IntVar(&o.batch, "batch", envInt("SOAK_BATCH", 100), "records per request [SOAK_BATCH]")
	fs.IntVar(&o.pad, "pad", envInt("SOAK_PAD", 200), "padding bytes per record [SOAK_PAD]")
	fs.DurationVar(&o.minLoad, "min-load", envDuration("SOAK_MIN_LOAD", 500*time.Millisecond), "shortest load before a kill [SOAK_MIN_LOAD]")
	fs.DurationVar(&o.maxLoad, "max-load", envDuration("SOAK_MAX_LOAD", 3*time.Second), "longest load before a kill [SOAK_MAX_LOAD]")
	fs.DurationVar(&o.outage, "minio-outage", envDuration("SOAK_MINIO_OUTAGE", 10*time.Second), "MinIO outage, 0 to skip [SOAK_MINIO_OUTAGE]")
	fs.DurationVar(&o.diskFull, "disk-full", envDuration("SOAK_DISK_FULL", 5*time.Second), "disk-full episode length, 0 to skip [SOAK_DISK_FULL]")
	fs.StringVar(&o.tmpfsSize, "tmpfs-size", envString("SOAK_TMPFS_SIZE", "1g"), "size of the tmpfs holding the data dir [SOAK_TMPFS_SIZE]")
	fs.DurationVar(&o.drain, "drain-timeout", envDuration("SOAK_DRAIN_TIMEOUT", 5*time.Minute), "limit for the final drain [SOAK_DRAIN_TIMEOUT]")
	fs.BoolVar(&o.keep, "keep", os.Getenv("SOAK_KEEP") != "", "keep the work directory [SOAK_KEEP]")
	fs.Uint64Var(&o.seed, "seed", envUint("SOAK_SEED", 0), "random seed, 0 for a random one [SOAK_SEED]")
	fs.DurationVar(&o.startupWait, "startup-timeout", envDuration("SOAK_STARTUP_TIMEOUT", 60*time.Second), "limit for a server or MinIO start [SOAK_STARTUP_TIMEOUT]")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.cycles < 1:
		return o, fmt.Errorf("cycles must be at least 1")
	case o.workers < 2:
		return o, fmt.Errorf("workers must be at least 2 (one per door)")
	case o.batch < 1 || o.batch > 500:
		return o, fmt.Errorf("batch must be 1..500")
	case o.minLoad <= 0 || o.maxLoad < o.minLoad:
		return o, fmt.Errorf("need 0 < min-load <= max-load")
	}
	return o, nil
}
