module modelgate

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require golang.org/x/text v0.43.0 // indirect

require (
	github.com/landlock-lsm/go-landlock v0.11.0
	golang.org/x/net v0.62.0
	kernel.org/pub/linux/libs/security/libcap/psx v1.2.77 // indirect
)
