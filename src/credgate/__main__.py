from credgate.cli import main

main()
