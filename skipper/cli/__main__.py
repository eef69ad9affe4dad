from skipper.cli import main

main()
